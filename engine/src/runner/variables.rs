//! A run's variables: the environment's, overridden by the workflow's, then the built-ins
//! (`environment`, `workflow`, `run_id`); captured values join them as steps run.

use std::collections::BTreeMap;

use super::RunContext;
use crate::config::Environment;
use crate::template::{Template, json_variables};
use crate::workflow::{RequestBody, Step, StepAction, Workflow};

/// Environment variables, overridden by the workflow's, then the built-ins.
pub(crate) fn initial(
    workflow: &Workflow,
    environment: &Environment,
    ctx: &RunContext,
) -> BTreeMap<String, String> {
    let mut vars = environment.variables.clone();
    vars.extend(workflow.variables.clone());
    vars.insert("environment".into(), environment.name.clone());
    vars.insert("workflow".into(), workflow.name.clone());
    vars.insert("run_id".into(), ctx.run_id.clone());
    vars
}

/// The first variable the step's templates need that is not set.
pub(crate) fn missing(step: &Step, vars: &BTreeMap<String, String>) -> Option<String> {
    let mut templates: Vec<&Template> = Vec::new();
    let mut json_names = Vec::new();
    match &step.action {
        StepAction::Http(h) => {
            templates.push(&h.url);
            templates.extend(h.headers.iter().chain(&h.query).map(|(_, t)| t));
            match &h.body {
                Some(RequestBody::Form(form)) => templates.extend(form.iter().map(|(_, t)| t)),
                Some(RequestBody::Raw { content, .. }) => templates.push(content),
                Some(RequestBody::Json(value)) => {
                    json_names = json_variables(value).unwrap_or_default()
                }
                None => {}
            }
        }
        StepAction::Command(c) => {
            templates.extend(&c.argv);
            templates.extend(c.env.iter().map(|(_, t)| t));
        }
        StepAction::Health(h) => {
            templates.push(&h.url);
            templates.extend(h.headers.iter().map(|(_, t)| t));
        }
    }
    templates
        .iter()
        .flat_map(|t| t.variables())
        .chain(json_names.iter().map(String::as_str))
        .find(|name| !vars.contains_key(*name))
        .map(str::to_owned)
}
