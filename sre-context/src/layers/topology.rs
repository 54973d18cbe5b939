//! The topology layer: where things live (accounts or subscriptions, groups, regions,
//! services and their relations), from a host-provided YAML or JSON document.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sre_core::{ContextLayer, LayerContext};

use crate::error::ContextError;

/// A map of where things live.
///
/// ```yaml
/// accounts:
///   - name: prod
///     provider: aws
///     id: "123456789012"
///     regions: [eu-west-1]
///     groups:
///       - name: payments
///         region: eu-west-1
///         services:
///           - {name: checkout, kind: ecs, depends_on: [payments-db]}
///           - {name: payments-db, kind: rds-postgres}
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Accounts, subscriptions or projects.
    #[serde(default)]
    pub accounts: Vec<Account>,
}

/// An account, subscription or project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Name.
    pub name: String,
    /// Cloud or platform (`aws`, `azure`, `gcp`, `k8s`).
    #[serde(default)]
    pub provider: Option<String>,
    /// Provider id (account number, subscription id).
    #[serde(default)]
    pub id: Option<String>,
    /// Regions in use.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Resource groups, namespaces, clusters.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// One-line note.
    #[serde(default)]
    pub notes: Option<String>,
}

/// A resource group, namespace or cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Region, if the group is regional.
    #[serde(default)]
    pub region: Option<String>,
    /// Services in it.
    #[serde(default)]
    pub services: Vec<Service>,
}

/// A service and what it depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Name, unique in the topology.
    pub name: String,
    /// Kind (`ecs`, `lambda`, `rds-postgres`, `deployment`).
    #[serde(default)]
    pub kind: Option<String>,
    /// Region, when it differs from its group's.
    #[serde(default)]
    pub region: Option<String>,
    /// Names of services it calls or needs.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// One-line note (dashboards, owners, runbook).
    #[serde(default)]
    pub notes: Option<String>,
}

impl Topology {
    /// Parse YAML; `file` names the source in errors.
    pub fn from_yaml(text: &str, file: &str) -> Result<Self, ContextError> {
        let t: Topology =
            serde_yaml_ng::from_str(text).map_err(|e| ContextError::yaml(file, &e, 0))?;
        t.validate(file)?;
        Ok(t)
    }

    /// Parse JSON; `file` names the source in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self, ContextError> {
        let t: Topology = serde_json::from_str(text).map_err(|e| ContextError::json(file, &e))?;
        t.validate(file)?;
        Ok(t)
    }

    /// Read a `.json`, `.yaml` or `.yml` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ContextError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ContextError::io(path, e))?;
        let file = path.display().to_string();
        if path.extension().is_some_and(|e| e == "json") {
            Topology::from_json(&text, &file)
        } else {
            Topology::from_yaml(&text, &file)
        }
    }

    /// Check names are present and unique and every relation points at a known service.
    pub fn validate(&self, file: &str) -> Result<(), ContextError> {
        let invalid = |path: String, message: String| ContextError::Invalid {
            file: file.to_string(),
            path,
            message,
        };
        let mut services = BTreeSet::new();
        for (a, account) in self.accounts.iter().enumerate() {
            if account.name.trim().is_empty() {
                return Err(invalid(format!("accounts[{a}].name"), "is empty".into()));
            }
            for (g, group) in account.groups.iter().enumerate() {
                if group.name.trim().is_empty() {
                    return Err(invalid(
                        format!("accounts[{a}].groups[{g}].name"),
                        "is empty".into(),
                    ));
                }
                for (s, service) in group.services.iter().enumerate() {
                    let path = format!("accounts[{a}].groups[{g}].services[{s}].name");
                    if service.name.trim().is_empty() {
                        return Err(invalid(path, "is empty".into()));
                    }
                    if !services.insert(service.name.as_str()) {
                        return Err(invalid(
                            path,
                            format!("service `{}` is defined twice", service.name),
                        ));
                    }
                }
            }
        }
        for (a, account) in self.accounts.iter().enumerate() {
            for (g, group) in account.groups.iter().enumerate() {
                for (s, service) in group.services.iter().enumerate() {
                    for (d, dep) in service.depends_on.iter().enumerate() {
                        if !services.contains(dep.as_str()) {
                            return Err(invalid(
                                format!("accounts[{a}].groups[{g}].services[{s}].depends_on[{d}]"),
                                format!("`{}` depends on unknown service `{dep}`", service.name),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Compact text form, in document order:
    ///
    /// ```text
    /// Topology (where things live):
    /// account prod (aws 123456789012; regions eu-west-1)
    ///   group payments [eu-west-1]
    ///     checkout (ecs) -> payments-db
    ///     payments-db (rds-postgres)
    /// ```
    pub fn render(&self) -> String {
        if self.accounts.is_empty() {
            return String::new();
        }
        let mut out = String::from("Topology (where things live):");
        for a in &self.accounts {
            let _ = write!(out, "\naccount {}", a.name);
            let mut attrs = Vec::new();
            match (&a.provider, &a.id) {
                (Some(p), Some(id)) => attrs.push(format!("{p} {id}")),
                (Some(p), None) => attrs.push(p.clone()),
                (None, Some(id)) => attrs.push(id.clone()),
                (None, None) => {}
            }
            if !a.regions.is_empty() {
                attrs.push(format!("regions {}", a.regions.join(", ")));
            }
            if !attrs.is_empty() {
                let _ = write!(out, " ({})", attrs.join("; "));
            }
            if let Some(n) = &a.notes {
                let _ = write!(out, " — {n}");
            }
            for g in &a.groups {
                let _ = write!(out, "\n  group {}", g.name);
                if let Some(r) = &g.region {
                    let _ = write!(out, " [{r}]");
                }
                for s in &g.services {
                    let _ = write!(out, "\n    {}", s.name);
                    let mut attrs = Vec::new();
                    if let Some(k) = &s.kind {
                        attrs.push(k.clone());
                    }
                    if let Some(r) = &s.region {
                        attrs.push(r.clone());
                    }
                    if !attrs.is_empty() {
                        let _ = write!(out, " ({})", attrs.join(", "));
                    }
                    if !s.depends_on.is_empty() {
                        let _ = write!(out, " -> {}", s.depends_on.join(", "));
                    }
                    if let Some(n) = &s.notes {
                        let _ = write!(out, " — {n}");
                    }
                }
            }
        }
        out
    }
}

/// The `topology` layer.
#[derive(Clone, Debug)]
pub struct TopologyLayer {
    topology: Topology,
}

impl TopologyLayer {
    /// A layer over a parsed topology.
    pub fn new(topology: Topology) -> Self {
        TopologyLayer { topology }
    }

    /// Read and check a topology file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ContextError> {
        Ok(TopologyLayer::new(Topology::from_file(path)?))
    }
}

#[async_trait]
impl ContextLayer for TopologyLayer {
    fn name(&self) -> &str {
        "topology"
    }

    async fn render(&self, _ctx: &LayerContext<'_>) -> sre_core::Result<String> {
        Ok(self.topology.render())
    }
}
