"""Activities: everything a project does that touches the world outside its workflow."""
