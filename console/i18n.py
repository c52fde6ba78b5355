"""The console's words, in Chinese (the default) and English. Stage, action and role
labels in Chinese are the domain's own; English ones are their names, spelled out."""

from __future__ import annotations

from domain.lifecycle import ACTION_LABELS_ZH
from domain.roles import ROLE_LABELS_ZH, Role
from domain.stages import STAGE_LABELS_ZH, Stage

LANGS = ("zh", "en")

WORDS: dict[str, tuple[str, str]] = {
    "app": ("工赋百景 揭榜挂帅 工作台", "Gongfu Baijing console"),
    "inbox": ("待办", "Inbox"),
    "projects": ("项目", "Projects"),
    "batches": ("批次", "Batches"),
    "new": ("新建申报", "New application"),
    "units": ("单位登记", "Units"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "demo_users": ("演示用户", "Demo users"),
    "demo_hint": ("演示环境：选择一位演示用户登录（角色、地区、单位）。",
                  "Demo: choose a demo user (role, region, unit)."),
    "token": ("访问令牌", "Access token"),
    "token_hint": ("粘贴与 API 相同的访问令牌（gongfu token 或统一身份认证签发）。",
                   "Paste a token, the same as the API's (from `gongfu token` or the IdP)."),
    "user": ("用户", "User"),
    "role": ("角色", "Role"),
    "region": ("地区", "Region"),
    "unit": ("单位", "Unit"),
    "waiting_on_me": ("等待我处理", "Waiting on me"),
    "nothing_waiting": ("暂无待办事项。", "Nothing is waiting on you."),
    "none": ("无", "none"),
    "title": ("项目名称", "Title"),
    "stage": ("阶段", "Stage"),
    "city": ("市", "City"),
    "county": ("县（市、区）", "County"),
    "task": ("揭榜任务", "Task"),
    "batch": ("批次", "Batch"),
    "deadline": ("截止时间", "Deadline"),
    "remaining": ("剩余时间", "Time left"),
    "overdue": ("已逾期", "overdue"),
    "select": ("选择", "Select"),
    "select_all": ("全选", "Select all"),
    "bulk": ("批量处理所选项目", "Decide the selected projects"),
    "action": ("操作", "Action"),
    "reason": ("理由", "Reason"),
    "reason_required": ("（必填）", "(required)"),
    "evidence": ("佐证材料", "Evidence"),
    "submit": ("提交", "Submit"),
    "apply": ("筛选", "Filter"),
    "all": ("全部", "all"),
    "results": ("处理结果", "Results"),
    "ok": ("成功", "done"),
    "refused": ("被拒绝", "refused"),
    "lifecycle": ("生命周期", "Lifecycle"),
    "timeline": ("时间线", "Timeline"),
    "when": ("时间", "When"),
    "who": ("决定人", "Who"),
    "from_to": ("阶段变化", "From → to"),
    "documents": ("文件", "Documents"),
    "kind": ("类别", "Kind"),
    "file": ("文件", "File"),
    "upload": ("上传", "Upload"),
    "consortium": ("联合体", "Consortium"),
    "consent_pending": ("待确认参与", "consent pending"),
    "consent_confirmed": ("已确认参与", "confirmed"),
    "consent_declined": ("已拒绝参与", "declined"),
    "consent_note": ("说明", "Note"),
    "consent_agree": ("确认参与（联合体协议）", "Confirm participation"),
    "consent_decline": ("拒绝参与", "Decline"),
    "deadlines": ("截止时间", "Deadlines"),
    "decisions": ("可做的决定", "Decisions you can make"),
    "no_decisions": ("当前没有您可以做的决定。", "There is no decision for you to make now."),
    "refusal": ("未被接受", "Refused"),
    "done": ("已完成：", "Done: "),
    "ended": ("已结束", "Ended"),
    "returned_why": ("退回原因", "Why it was returned"),
    "edit": ("修改申报材料", "Edit the application"),
    "investment": ("预期投入（元）", "Declared investment (CNY)"),
    "impl_region": ("实施地区划代码", "Implementation county code"),
    "audit": ("审计", "Audit"),
    "replay": ("重放证明", "Replay proof"),
    "verify": ("核验", "Verification"),
    "audit_zip": ("审计档案（zip）", "Audit file (zip)"),
    "raw_history": ("原始流程历史（JSON）", "Raw workflow history (JSON)"),
    "temporal_ui": ("在 Temporal UI 中查看", "Open in the Temporal UI"),
    "ranking": ("推荐排序名单", "Ranked recommendation list"),
    "rank": ("排序", "Rank"),
    "quota": ("推荐名额", "Quota"),
    "quota_used": ("已用名额", "Used"),
    "exempt": ("不占名额（央企/省属国企）", "No quota (central / provincial SOE)"),
    "submit_list": ("提交整份名单", "Submit the whole list"),
    "rank_hint": ("为要推荐的项目填写排序（1 为最优先），留空则不推荐；"
                  "整份名单一次提交，超出名额则整份被拒绝。",
                  "Give a rank (1 = first) to each project you recommend, leave it empty "
                  "otherwise; the list is accepted or refused as a whole against the quota."),
    "summary_xlsx": ("推荐汇总表（xlsx）", "Recommendation summary (xlsx)"),
    "award_list": ("择优奖补名单", "Merit list of awards"),
    "award_csv": ("择优奖补名单（csv）", "Merit list of awards (csv)"),
    "award_hint": ("为给予奖补的项目填写排名（本份名单从第{n}名起连续编排）和金额"
                   "（每个场景最高100万元，且不超过验收核定投资）；勾选“不予奖补”须填写理由；"
                   "留空的项目本次不作决定，仍可另行决定或列入下一份名单。整份名单一次提交，"
                   "任何一项不符合要求则整份被拒绝。",
                   "Give each project you award a rank (this list runs on from rank {n} "
                   "without gaps) and an amount (at most 1,000,000 CNY per scene, never above "
                   "the verified investment); tick no award with a reason; projects left "
                   "empty are not decided now and stay open to a decision or a later list. "
                   "The list is accepted or refused as a whole."),
    "undecided": ("尚未决定补助的项目", "Projects whose subsidy is not decided"),
    "amount_cny": ("奖补金额（元）", "Award (CNY)"),
    "scenes": ("场景数", "Scenes"),
    "verified_investment": ("验收核定投资（元）", "Verified investment (CNY)"),
    "no_award": ("不予奖补", "No award"),
    "no_award_reason": ("不予奖补理由", "Reason for no award"),
    "list_reason": ("名单理由（如评审会议纪要）", "The list's reason (e.g. the meeting's minutes)"),
    "lists_decided": ("已提交的名单", "Lists decided"),
    "award_state": ("状态", "State"),
    "state_decided": ("已生效", "in effect"),
    "state_awaiting_cosign": ("待省财政厅会签", "awaiting the finance department"),
    "state_lapsed": ("未生效", "lapsed"),
    "state_refused": ("被拒绝", "refused"),
    "state_in_progress": ("处理中", "in progress"),
    "publicity_xlsx": ("公示名单（xlsx）", "Publicity list (xlsx)"),
    "results_csv": ("结果（csv）", "Results (csv)"),
    "exports": ("导出", "Exports"),
    "dashboard": ("批次看板", "Batch dashboard"),
    "matrix": ("阶段 × 城市", "Stage × city"),
    "funnel": ("漏斗（到达各阶段的项目数）", "Funnel (projects that reached each stage)"),
    "quota_by_city": ("各市推荐与名额", "Recommendations against quota by city"),
    "near_deadline": ("临近或已过截止时间（72小时内）", "Near or past a deadline (72 hours)"),
    "extend": ("延长批次截止时间", "Extend the batch close"),
    "local_deadline": ("设定本地提前截止时间", "Set an earlier local deadline"),
    "new_deadline": ("新截止时间（北京时间）", "New deadline (+08:00)"),
    "publicity": ("公示", "Publicity"),
    "halfyear_round": ("组织半年期集中验收", "Open the half-year acceptance round"),
    "halfyear_round_hint": ("已申请参加半年期集中验收的项目进入验收；"
                            "未申请的继续实施，一年期末统一验收。",
                            "Projects whose units applied enter the round; the others continue "
                            "to the one-year round."),
    "halfyear_round_none": ("没有已申请的项目", "No project has applied"),
    "open_publicity": ("对所选项目开始公示", "Open publicity for the selected projects"),
    "working_days": ("公示工作日数", "Working days"),
    "close_at": ("批次截止", "Batch close"),
    "create": ("创建草稿", "Create the draft"),
    "members": ("联合体成员（每行：统一社会信用代码 角色 scene/member）",
                "Consortium members (one per line: credit code, role scene/member)"),
    "register_unit": ("登记单位", "Register a unit"),
    "credit_code": ("统一社会信用代码", "Credit code"),
    "name": ("名称", "Name"),
    "unit_kind": ("单位类型", "Kind"),
    "region_code": ("所在县级区划代码", "County code"),
    "central": ("在鲁央企", "Central enterprise in Shandong"),
    "psoe": ("省属国企", "Provincial SOE"),
    "assigned": ("分配给我的项目", "Projects assigned to me"),
    "experts_hint": ("每行一位专家：用户名，可加冒号后列出其声明回避的单位信用代码（逗号分隔）",
                     "One expert per line: user id, then optionally a colon and the credit "
                     "codes of units they declared a tie to"),
    "conflicts": ("声明的利益冲突（回避单位）", "Declared conflicts (units)"),
    "conflict_hint": ("如与本项目联合体任何单位存在利益关系，请告知省工信厅，"
                      "由其在分配时登记回避（R12）。",
                      "If you have a tie to any unit of this consortium, tell the province, "
                      "who records it when assigning experts (R12)."),
    "score": ("评分", "Score"),
    "count": ("数量", "Count"),
    "total": ("合计", "Total"),
    "language": ("语言", "Language"),
    "skip": ("跳到正文", "Skip to content"),
    "operator_links": ("审计与运维", "Audit and operations"),
    "error": ("出错了", "Something went wrong"),
    "pending_cosign": ("待会签", "Awaiting co-signature"),
    "cosign_queue": ("会签队列", "Co-signature queue"),
    "payload": ("决定内容（JSON）", "Decision content (JSON)"),
    "page": ("页", "page"),
    "applicant": ("申报单位", "Applicant"),
    "sha256": ("SHA-256", "SHA-256"),
    "size": ("大小（字节）", "Size (bytes)"),
    "end": ("结束", "End"),
    "now": ("当前", "current"),
    "no_projects": ("没有符合条件的项目。", "No project matches."),
    "candidates": ("市级审核中的项目", "Projects in city review"),
    "takes_place": ("占用名额", "Takes a place"),
    "yes": ("是", "yes"),
    "event": ("事件", "Event"),
    "kind_decision": ("决定", "decision"),
    "kind_timer": ("定时器", "timer"),
    "kind_refused": ("被拒绝", "refused"),
    "kind_deadline_change": ("截止时间变更", "deadline change"),
    "replays": ("重放一致", "replays"),
    "diverges": ("重放不一致，事件", "diverges at event"),
    "events": ("个事件", "events"),
    "records": ("条决定记录", "records"),
    "chain": ("哈希链", "chain"),
    "intact": ("完整", "intact"),
    "broken_at": ("断裂于", "broken at"),
    "history": ("与流程历史", "history"),
    "matches": ("一致", "matches"),
    "differs": ("不一致", "differs"),
    "not_compared": ("未比对", "not compared"),
}


def word(key: str, lang: str) -> str:
    zh, en = WORDS.get(key, (key, key))
    return en if lang == "en" else zh


def _spelled(name: str) -> str:
    return name.replace("_", " ")


def stage_label(stage: str, lang: str) -> str:
    try:
        s = Stage(stage)
    except ValueError:
        return stage
    return _spelled(s.value) if lang == "en" else STAGE_LABELS_ZH[s]


# Decisions whose moves carry different labels by stage: one label that fits them all.
_ACTION_ZH = {**ACTION_LABELS_ZH, "attach_document": "上传文件"}


def action_label(action: str, lang: str) -> str:
    return _spelled(action) if lang == "en" else _ACTION_ZH.get(action, action)


def role_label(role: str, lang: str) -> str:
    try:
        r = Role(role)
    except ValueError:
        return role
    return _spelled(r.value) if lang == "en" else ROLE_LABELS_ZH[r]
