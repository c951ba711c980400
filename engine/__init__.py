"""samverka's workflow engine: BPMN specs, case runtime and persistence on SpiffWorkflow."""
