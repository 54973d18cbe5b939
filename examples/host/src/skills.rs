//! An agent's skills as sre-context's progressive-disclosure `Skills`: the catalog layer,
//! `activate_skill`, and the tools only a skill grants, gated until it is active.

use sre_context::{Skill, Skills};

use crate::error::HostError;
use crate::home::{AgentHome, ToolRef};

/// The skills `names` of `home` (folder skills are read by the agent under
/// `<mount>/<name>`).
pub fn for_agent(
    home: &AgentHome,
    names: &[String],
    mount: Option<&str>,
) -> Result<Skills, HostError> {
    let mut skills = Vec::with_capacity(names.len());
    for name in names {
        let def = home
            .skills
            .get(name)
            .ok_or_else(|| HostError::Assembly(format!("skill `{name}` is not in the home")))?;
        let mut skill = Skill::new(&def.name, &def.description, &def.instructions)
            .tools(def.tools.iter().map(ToolRef::name));
        if let (Some(dir), Some(mount)) = (&def.dir, mount) {
            skill = skill.files(dir, format!("{mount}/{}", def.name));
        }
        skills.push(skill);
    }
    Skills::new(skills).map_err(|e| HostError::Assembly(format!("skills: {e}")))
}
