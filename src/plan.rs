//! The plan as data, and its JSON document (`format_version` "1", or "1.1" for a plan that
//! undoes a run, product.md §6 and §12): building the checksum, saving, and loading a plan
//! file with every refusal a reviewer needs. Pure data and serialization: no HTTP, no prompts.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::rules::{DirectoryRef, Finding, GroupRef, Notice};

/// The newest plan document version this build writes and reads. A plan is written with the
/// oldest version that holds it: "1" unless it undoes a run (`undo_of`, the `revert` and
/// `restore` actions), which needs "1.1" (an additive change: every "1" plan still loads).
pub const FORMAT_VERSION: &str = "1.1";

/// The first plan document version: no `undo_of`, no `revert` or `restore` actions.
pub const FORMAT_VERSION_1: &str = "1";

/// A complete plan: what was found, what will change, and a checksum over all of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format_version: String,
    pub ouguard_version: String,
    /// The org the plan was made for; `None` for a plan made from a snapshot without one.
    pub org_url: Option<String>,
    /// RFC 3339 UTC timestamp.
    pub created_at: String,
    /// The run this plan reverses (`ouguard undo`); absent in every other plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_of: Option<UndoOf>,
    pub findings: Vec<Finding>,
    /// Notices: what was not evaluated, why findings are not fixed, what a change implies.
    #[serde(default)]
    pub warnings: Vec<Warning>,
    pub resource_changes: Vec<ResourceChange>,
    pub summary: Summary,
    /// What `plan --evidence` read: its window, its cost, what it could not read, and the
    /// users of findings fixed by earlier applies (additive; absent without `--evidence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::evidence::PlanEvidence>,
    /// `sha256:<hex>` over the canonical JSON of every other field.
    pub checksum: String,
}

/// The run an undo plan reverses: its run record (the path `ouguard undo` was given) and the
/// checksum of the plan that run applied. `apply` re-reads that record and accepts only the
/// reversals it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoOf {
    pub run_record: String,
    pub plan_checksum: String,
}

/// A warning printed before the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    pub id: String,
    pub message: String,
}

impl From<&Notice> for Warning {
    fn from(notice: &Notice) -> Self {
        Warning {
            id: notice.id.clone(),
            message: notice.message.clone(),
        }
    }
}

/// What kind of resource a change touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    ImportOu,
    GroupTargetOu,
    MappingProperty,
}

impl ChangeKind {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::ImportOu => "import_ou",
            ChangeKind::GroupTargetOu => "group_target_ou",
            ChangeKind::MappingProperty => "mapping_property",
        }
    }
}

/// What a change does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Update,
    Delete,
    /// Puts a group assignment back as a run's record says it was (undo; format "1.1").
    Revert,
    /// Puts a deleted mapping property back as a run's record says it was (undo; "1.1").
    Restore,
}

impl Action {
    /// Terraform's symbol for the action.
    #[must_use]
    pub fn symbol(self) -> char {
        match self {
            Action::Add | Action::Restore => '+',
            Action::Update | Action::Revert => '~',
            Action::Delete => '-',
        }
    }

    /// The action's name in the document.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Revert => "revert",
            Action::Restore => "restore",
        }
    }

    /// `true` for the actions only an undo plan has (format "1.1").
    #[must_use]
    pub fn is_reversal(self) -> bool {
        matches!(self, Action::Revert | Action::Restore)
    }
}

/// Who carries a change out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Execution {
    /// ouguard, through Okta's API.
    Api,
    /// A person, in the admin console (Okta has no API for it).
    Manual,
}

/// One change of the plan: where it is, which findings it fixes, and what it does.
///
/// In the document it keeps the `format_version` "1" shape (`address`, `kind`, `action`,
/// `execution`, `finding`, `also_fixes`, `directory`, `group`, `mapping_id`, `before`,
/// `after`, `precondition`); in memory, what it does is one typed variant of
/// [`ChangeDetails`], so a field a kind needs is always there and no other is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "serde_json::Map<String, Value>")]
pub struct ResourceChange {
    pub address: String,
    /// The finding this change fixes.
    pub finding: String,
    /// Further findings the same change fixes (several groups targeting one OU).
    pub also_fixes: Vec<String>,
    pub directory: DirectoryRef,
    pub details: ChangeDetails,
}

/// What a change does, one variant per (`kind`, `action`) pair. A new kind or action is a new
/// variant: its document shape is written in [`ChangeDetails::document`] and read in
/// [`ResourceChange::from_document`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeDetails {
    /// `import_ou` / `add`: a person ticks the OU in the admin console (no API).
    ImportOuAdd(ImportOuAdd),
    /// `group_target_ou` / `update`: the group's target OU is set through the API.
    GroupTargetOuUpdate(GroupTargetOuUpdate),
    /// `mapping_property` / `delete`: the property is removed from a To-App mapping.
    MappingPropertyDelete(MappingPropertyDelete),
    /// `group_target_ou` / `revert` (undo, "1.1"): the assignment is put back, priority and
    /// whole profile, as the run record says it was before the run's write.
    GroupTargetOuRevert(GroupTargetOuRevert),
    /// `mapping_property` / `restore` (undo, "1.1"): a property the run deleted is put back
    /// with its expression and `pushStatus`.
    MappingPropertyRestore(MappingPropertyRestore),
}

/// Putting a group assignment back as it was before a run's retarget (undo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTargetOuRevert {
    pub group: GroupRef,
    /// The target OU the run wrote (any text: an undo of an undo may find the broken OU the
    /// first undo put back; `None` when it left none): what the group targets when the undo
    /// is planned.
    pub before: Option<String>,
    /// The assignment as the run record says it was before the run's write.
    pub after: RestoredAssignment,
    /// What must still hold on a fresh read before the write: the state the run left.
    pub precondition: AssignmentPrecondition,
}

/// An assignment's `priority` and whole `profile` to write back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredAssignment {
    /// `profile.organizationalUnit` as it was (any text: it may be the broken OU the run
    /// fixed); `None` when it was unset.
    pub organizational_unit: Option<String>,
    pub priority: Option<i64>,
    /// The whole profile, exactly as read before the run's write.
    pub profile: serde_json::Map<String, Value>,
}

/// Putting a deleted mapping property back (undo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingPropertyRestore {
    pub mapping_id: String,
    /// The Okta user type the mapping maps from (as in the address `mapping["user"]`).
    pub user_type: String,
    /// The property key (`dn` or a `dn`-equivalent).
    pub key: String,
    /// The expression it had before the run deleted it.
    pub expression: String,
    /// `PUSH` or `DONT_PUSH`, as it was.
    pub push_status: String,
}

/// The `pushStatus` values Okta knows.
pub const PUSH_STATUSES: [&str; 2] = ["PUSH", "DONT_PUSH"];

/// Adding an import OU to a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOuAdd {
    /// The OU to tick, as read from the group's target (a DN that parses).
    pub ou: String,
}

/// Setting a group's target OU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTargetOuUpdate {
    pub group: GroupRef,
    /// The target OU as read when planning; `None` when the group had none.
    pub before: Option<String>,
    /// The destination (a DN that parses).
    pub after: String,
    /// What must still hold on a fresh read before the write.
    pub precondition: AssignmentPrecondition,
}

/// What a group assignment must still be for a retarget to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentPrecondition {
    /// The assignment's `lastUpdated` when planned (never empty).
    pub last_updated: String,
    /// The target OU when planned; `None` when the group had none.
    pub organizational_unit: Option<String>,
}

/// Deleting one property of a To-App mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingPropertyDelete {
    pub mapping_id: String,
    /// The Okta user type the mapping maps from (as in the address `mapping["user"]`).
    pub user_type: String,
    /// The property key (`dn` or a `dn`-equivalent).
    pub key: String,
    /// The expression it was mapped to when planned; the precondition on a fresh read.
    pub expression: String,
}

impl ChangeDetails {
    #[must_use]
    pub fn kind(&self) -> ChangeKind {
        match self {
            ChangeDetails::ImportOuAdd(_) => ChangeKind::ImportOu,
            ChangeDetails::GroupTargetOuUpdate(_) | ChangeDetails::GroupTargetOuRevert(_) => {
                ChangeKind::GroupTargetOu
            }
            ChangeDetails::MappingPropertyDelete(_) | ChangeDetails::MappingPropertyRestore(_) => {
                ChangeKind::MappingProperty
            }
        }
    }

    #[must_use]
    pub fn action(&self) -> Action {
        match self {
            ChangeDetails::ImportOuAdd(_) => Action::Add,
            ChangeDetails::GroupTargetOuUpdate(_) => Action::Update,
            ChangeDetails::MappingPropertyDelete(_) => Action::Delete,
            ChangeDetails::GroupTargetOuRevert(_) => Action::Revert,
            ChangeDetails::MappingPropertyRestore(_) => Action::Restore,
        }
    }

    #[must_use]
    pub fn execution(&self) -> Execution {
        match self {
            ChangeDetails::ImportOuAdd(_) => Execution::Manual,
            ChangeDetails::GroupTargetOuUpdate(_)
            | ChangeDetails::MappingPropertyDelete(_)
            | ChangeDetails::GroupTargetOuRevert(_)
            | ChangeDetails::MappingPropertyRestore(_) => Execution::Api,
        }
    }

    /// The document fields `group`, `mapping_id`, `before`, `after` and `precondition`.
    fn document(&self) -> DetailsDocument<'_> {
        match self {
            ChangeDetails::ImportOuAdd(add) => DetailsDocument {
                group: None,
                mapping_id: None,
                before: None,
                after: Some(SideDocument::ImportOu { ou: &add.ou }),
                precondition: None,
            },
            ChangeDetails::GroupTargetOuUpdate(update) => DetailsDocument {
                group: Some(&update.group),
                mapping_id: None,
                before: Some(SideDocument::TargetOu {
                    organizational_unit: update.before.as_deref(),
                }),
                after: Some(SideDocument::TargetOu {
                    organizational_unit: Some(&update.after),
                }),
                precondition: Some(SideDocument::Assignment {
                    last_updated: &update.precondition.last_updated,
                    organizational_unit: update.precondition.organizational_unit.as_deref(),
                }),
            },
            ChangeDetails::MappingPropertyDelete(delete) => DetailsDocument {
                group: None,
                mapping_id: Some(&delete.mapping_id),
                before: Some(SideDocument::Property {
                    key: &delete.key,
                    expression: &delete.expression,
                }),
                after: None,
                precondition: Some(SideDocument::Property {
                    key: &delete.key,
                    expression: &delete.expression,
                }),
            },
            ChangeDetails::GroupTargetOuRevert(revert) => DetailsDocument {
                group: Some(&revert.group),
                mapping_id: None,
                before: Some(SideDocument::TargetOu {
                    organizational_unit: revert.before.as_deref(),
                }),
                after: Some(SideDocument::WholeAssignment {
                    organizational_unit: revert.after.organizational_unit.as_deref(),
                    priority: revert.after.priority,
                    profile: &revert.after.profile,
                }),
                precondition: Some(SideDocument::Assignment {
                    last_updated: &revert.precondition.last_updated,
                    organizational_unit: revert.precondition.organizational_unit.as_deref(),
                }),
            },
            ChangeDetails::MappingPropertyRestore(restore) => DetailsDocument {
                group: None,
                mapping_id: Some(&restore.mapping_id),
                before: Some(SideDocument::Unmapped {
                    key: &restore.key,
                    expression: None,
                }),
                after: Some(SideDocument::PushedProperty {
                    key: &restore.key,
                    expression: &restore.expression,
                    push_status: &restore.push_status,
                }),
                precondition: Some(SideDocument::Unmapped {
                    key: &restore.key,
                    expression: None,
                }),
            },
        }
    }
}

impl ResourceChange {
    /// Every finding id this change fixes.
    pub fn fixed_findings(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.finding.as_str()).chain(self.also_fixes.iter().map(String::as_str))
    }

    #[must_use]
    pub fn kind(&self) -> ChangeKind {
        self.details.kind()
    }

    #[must_use]
    pub fn action(&self) -> Action {
        self.details.action()
    }

    #[must_use]
    pub fn execution(&self) -> Execution {
        self.details.execution()
    }

    /// The group a retarget (or its reversal) changes.
    #[must_use]
    pub fn group(&self) -> Option<&GroupRef> {
        match &self.details {
            ChangeDetails::GroupTargetOuUpdate(update) => Some(&update.group),
            ChangeDetails::GroupTargetOuRevert(revert) => Some(&revert.group),
            _ => None,
        }
    }

    /// The mapping a property delete changes.
    #[must_use]
    pub fn mapping_id(&self) -> Option<&str> {
        match &self.details {
            ChangeDetails::MappingPropertyDelete(delete) => Some(&delete.mapping_id),
            ChangeDetails::MappingPropertyRestore(restore) => Some(&restore.mapping_id),
            _ => None,
        }
    }

    /// The document's `before` object (for the run record).
    #[must_use]
    pub fn before_value(&self) -> Value {
        serde_json::to_value(self.details.document().before).unwrap_or(Value::Null)
    }

    /// The document's `after` object (for the run record).
    #[must_use]
    pub fn after_value(&self) -> Value {
        serde_json::to_value(self.details.document().after).unwrap_or(Value::Null)
    }

    /// The address ouguard writes for an import OU add.
    #[must_use]
    pub fn import_ou_address(domain: &str, ou: &str) -> String {
        format!("directory[{}].import_ou[{}]", quoted(domain), quoted(ou))
    }

    /// The address ouguard writes for a retarget; `group_label` is the group's name, or
    /// `name (id)` when two assigned groups share the name.
    #[must_use]
    pub fn target_ou_address(domain: &str, group_label: &str) -> String {
        format!(
            "directory[{}].group[{}].target_ou",
            quoted(domain),
            quoted(group_label)
        )
    }

    /// The address ouguard writes for a mapping property delete.
    #[must_use]
    pub fn mapping_property_address(domain: &str, user_type: &str, key: &str) -> String {
        format!(
            "directory[{}].mapping[{}].property[{}]",
            quoted(domain),
            quoted(user_type),
            quoted(key)
        )
    }

    /// Reads one change of a plan document, refusing a missing or mistyped field, an unknown
    /// `kind`/`action` pair, an empty precondition, a DN that does not parse and an address
    /// that does not name what the change does.
    pub fn from_document(
        mut fields: serde_json::Map<String, Value>,
    ) -> Result<ResourceChange, ChangeError> {
        let address = match fields.remove("address") {
            Some(Value::String(address)) if !address.is_empty() => address,
            Some(Value::String(_)) => return Err(ChangeError::new("", "address", "is empty")),
            Some(other) => {
                return Err(ChangeError::new(
                    "",
                    "address",
                    format!("is {}, not a string", type_name(&other)),
                ))
            }
            None => return Err(ChangeError::new("", "address", "is missing")),
        };
        let mut reader = FieldReader {
            address: &address,
            fields,
        };
        let kind: String = reader.required("kind")?;
        let action: String = reader.required("action")?;
        let execution: Execution = reader.required("execution")?;
        let finding: String = reader.required("finding")?;
        if finding.is_empty() {
            return Err(reader.error("finding", "is empty"));
        }
        let also_fixes: Vec<String> = reader.optional("also_fixes")?.unwrap_or_default();
        let directory: DirectoryRef = reader.required("directory")?;
        if directory.app_id.is_empty() || directory.domain.is_empty() {
            return Err(reader.error("directory", "names no app id or no domain"));
        }
        let group: Option<GroupRef> = reader.optional("group")?;
        let mapping_id: Option<String> = reader.optional("mapping_id")?;
        let before: Option<serde_json::Map<String, Value>> = reader.optional("before")?;
        let after: Option<serde_json::Map<String, Value>> = reader.optional("after")?;
        let precondition: Option<serde_json::Map<String, Value>> =
            reader.optional("precondition")?;
        if let Some(unknown) = reader.fields.keys().next() {
            return Err(reader.error(unknown, "is not a field of a change"));
        }
        let address_ref = reader.address;
        let error = |field: &str, problem: &str| ChangeError::new(address_ref, field, problem);
        let domain = directory.domain.as_str();

        let details = match (kind.as_str(), action.as_str()) {
            ("import_ou", "add") => {
                forbid(address_ref, "group", group.is_some())?;
                forbid(address_ref, "mapping_id", mapping_id.is_some())?;
                forbid(address_ref, "before", before.is_some())?;
                forbid(address_ref, "precondition", precondition.is_some())?;
                let mut after = Side::required(address_ref, "after", after)?;
                let ou = after.dn("ou")?;
                after.finish()?;
                if address_ref != Self::import_ou_address(domain, &ou) {
                    return Err(error(
                        "address",
                        "does not name the directory and OU of the change",
                    ));
                }
                ChangeDetails::ImportOuAdd(ImportOuAdd { ou })
            }
            ("group_target_ou", "update") => {
                forbid(address_ref, "mapping_id", mapping_id.is_some())?;
                let Some(group) = group else {
                    return Err(error("group", "is missing"));
                };
                if group.id.is_empty() {
                    return Err(error("group.id", "is empty"));
                }
                let mut before_side = Side::required(address_ref, "before", before)?;
                let before = before_side.optional_string("organizationalUnit")?;
                before_side.finish()?;
                let mut after_side = Side::required(address_ref, "after", after)?;
                let after = after_side.dn("organizationalUnit")?;
                after_side.finish()?;
                let mut wanted = Side::required(address_ref, "precondition", precondition)?;
                let last_updated = wanted.non_empty_string("lastUpdated")?;
                let organizational_unit = wanted.optional_string("organizationalUnit")?;
                wanted.finish()?;
                if organizational_unit != before {
                    return Err(error(
                        "precondition.organizationalUnit",
                        "differs from `before.organizationalUnit`",
                    ));
                }
                let with_id = format!("{} ({})", group.name, group.id);
                if address_ref != Self::target_ou_address(domain, &group.name)
                    && address_ref != Self::target_ou_address(domain, &with_id)
                {
                    return Err(error(
                        "address",
                        "does not name the directory and group of the change",
                    ));
                }
                ChangeDetails::GroupTargetOuUpdate(GroupTargetOuUpdate {
                    group,
                    before,
                    after,
                    precondition: AssignmentPrecondition {
                        last_updated,
                        organizational_unit,
                    },
                })
            }
            ("mapping_property", "delete") => {
                forbid(address_ref, "group", group.is_some())?;
                forbid(address_ref, "after", after.is_some())?;
                let Some(mapping_id) = mapping_id.filter(|id| !id.is_empty()) else {
                    return Err(error("mapping_id", "is missing or empty"));
                };
                let mut before_side = Side::required(address_ref, "before", before)?;
                let key = before_side.non_empty_string("key")?;
                let expression = before_side.non_empty_string("expression")?;
                before_side.finish()?;
                let mut wanted = Side::required(address_ref, "precondition", precondition)?;
                let wanted_key = wanted.non_empty_string("key")?;
                let wanted_expression = wanted.non_empty_string("expression")?;
                wanted.finish()?;
                if wanted_key != key {
                    return Err(error("precondition.key", "differs from `before.key`"));
                }
                if wanted_expression != expression {
                    return Err(error(
                        "precondition.expression",
                        "differs from `before.expression`",
                    ));
                }
                let Some(user_type) = mapping_user_type(address_ref, domain, &key) else {
                    return Err(error(
                        "address",
                        "does not name the directory and property key of the change",
                    ));
                };
                ChangeDetails::MappingPropertyDelete(MappingPropertyDelete {
                    mapping_id,
                    user_type,
                    key,
                    expression,
                })
            }
            ("group_target_ou", "revert") => {
                forbid(address_ref, "mapping_id", mapping_id.is_some())?;
                let Some(group) = group else {
                    return Err(error("group", "is missing"));
                };
                if group.id.is_empty() {
                    return Err(error("group.id", "is empty"));
                }
                let mut before_side = Side::required(address_ref, "before", before)?;
                let before = before_side.optional_string("organizationalUnit")?;
                before_side.finish()?;
                let mut after_side = Side::required(address_ref, "after", after)?;
                let organizational_unit = after_side.optional_string("organizationalUnit")?;
                let priority = after_side.optional_integer("priority")?;
                let profile = after_side.object("profile")?;
                after_side.finish()?;
                let in_profile = match profile.get("organizationalUnit") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(text)) => Some(text.as_str()),
                    Some(_) => {
                        return Err(error(
                            "after.profile.organizationalUnit",
                            "is not a string or null",
                        ))
                    }
                };
                if in_profile != organizational_unit.as_deref() {
                    return Err(error(
                        "after.organizationalUnit",
                        "differs from `after.profile.organizationalUnit`",
                    ));
                }
                let mut wanted = Side::required(address_ref, "precondition", precondition)?;
                let last_updated = wanted.non_empty_string("lastUpdated")?;
                let wanted_ou = wanted.optional_string("organizationalUnit")?;
                wanted.finish()?;
                if wanted_ou != before {
                    return Err(error(
                        "precondition.organizationalUnit",
                        "differs from `before.organizationalUnit`",
                    ));
                }
                let with_id = format!("{} ({})", group.name, group.id);
                if address_ref != Self::target_ou_address(domain, &group.name)
                    && address_ref != Self::target_ou_address(domain, &with_id)
                {
                    return Err(error(
                        "address",
                        "does not name the directory and group of the change",
                    ));
                }
                ChangeDetails::GroupTargetOuRevert(GroupTargetOuRevert {
                    group,
                    before,
                    after: RestoredAssignment {
                        organizational_unit,
                        priority,
                        profile,
                    },
                    precondition: AssignmentPrecondition {
                        last_updated,
                        organizational_unit: wanted_ou,
                    },
                })
            }
            ("mapping_property", "restore") => {
                forbid(address_ref, "group", group.is_some())?;
                let Some(mapping_id) = mapping_id.filter(|id| !id.is_empty()) else {
                    return Err(error("mapping_id", "is missing or empty"));
                };
                let mut before_side = Side::required(address_ref, "before", before)?;
                let before_key = before_side.non_empty_string("key")?;
                before_side.null("expression")?;
                before_side.finish()?;
                let mut after_side = Side::required(address_ref, "after", after)?;
                let key = after_side.non_empty_string("key")?;
                let expression = after_side.non_empty_string("expression")?;
                let push_status = after_side.non_empty_string("pushStatus")?;
                after_side.finish()?;
                if !PUSH_STATUSES.contains(&push_status.as_str()) {
                    return Err(error(
                        "after.pushStatus",
                        "is neither `PUSH` nor `DONT_PUSH`",
                    ));
                }
                let mut wanted = Side::required(address_ref, "precondition", precondition)?;
                let wanted_key = wanted.non_empty_string("key")?;
                wanted.null("expression")?;
                wanted.finish()?;
                if before_key != key {
                    return Err(error("before.key", "differs from `after.key`"));
                }
                if wanted_key != key {
                    return Err(error("precondition.key", "differs from `after.key`"));
                }
                let Some(user_type) = mapping_user_type(address_ref, domain, &key) else {
                    return Err(error(
                        "address",
                        "does not name the directory and property key of the change",
                    ));
                };
                ChangeDetails::MappingPropertyRestore(MappingPropertyRestore {
                    mapping_id,
                    user_type,
                    key,
                    expression,
                    push_status,
                })
            }
            (kind, action) => {
                return Err(error(
                    "kind",
                    &format!(
                        "`{kind}` with action `{action}` is not a change this ouguard knows \
                         (it knows `import_ou`/`add`, `group_target_ou`/`update`, \
                         `mapping_property`/`delete`, and in undo plans \
                         `group_target_ou`/`revert` and `mapping_property`/`restore`)"
                    ),
                ))
            }
        };
        if execution != details.execution() {
            return Err(error(
                "execution",
                &format!(
                    "must be `{}` for a `{kind}` change",
                    match details.execution() {
                        Execution::Api => "api",
                        Execution::Manual => "manual",
                    }
                ),
            ));
        }
        Ok(ResourceChange {
            address,
            finding,
            also_fixes,
            directory,
            details,
        })
    }
}

impl TryFrom<serde_json::Map<String, Value>> for ResourceChange {
    type Error = ChangeError;

    fn try_from(fields: serde_json::Map<String, Value>) -> Result<Self, Self::Error> {
        ResourceChange::from_document(fields)
    }
}

impl Serialize for ResourceChange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let details = self.details.document();
        ChangeDocument {
            address: &self.address,
            kind: self.kind(),
            action: self.action(),
            execution: self.execution(),
            finding: &self.finding,
            also_fixes: &self.also_fixes,
            directory: &self.directory,
            group: details.group,
            mapping_id: details.mapping_id,
            before: details.before,
            after: details.after,
            precondition: details.precondition,
        }
        .serialize(serializer)
    }
}

/// A change as the document writes it, field for field, in the document's order.
#[derive(Serialize)]
struct ChangeDocument<'a> {
    address: &'a str,
    kind: ChangeKind,
    action: Action,
    execution: Execution,
    finding: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    also_fixes: &'a [String],
    directory: &'a DirectoryRef,
    group: Option<&'a GroupRef>,
    mapping_id: Option<&'a str>,
    before: Option<SideDocument<'a>>,
    after: Option<SideDocument<'a>>,
    precondition: Option<SideDocument<'a>>,
}

struct DetailsDocument<'a> {
    group: Option<&'a GroupRef>,
    mapping_id: Option<&'a str>,
    before: Option<SideDocument<'a>>,
    after: Option<SideDocument<'a>>,
    precondition: Option<SideDocument<'a>>,
}

/// The objects under `before`, `after` and `precondition`.
#[derive(Serialize)]
#[serde(untagged)]
enum SideDocument<'a> {
    ImportOu {
        ou: &'a str,
    },
    TargetOu {
        #[serde(rename = "organizationalUnit")]
        organizational_unit: Option<&'a str>,
    },
    Assignment {
        #[serde(rename = "lastUpdated")]
        last_updated: &'a str,
        #[serde(rename = "organizationalUnit")]
        organizational_unit: Option<&'a str>,
    },
    Property {
        key: &'a str,
        expression: &'a str,
    },
    WholeAssignment {
        #[serde(rename = "organizationalUnit")]
        organizational_unit: Option<&'a str>,
        priority: Option<i64>,
        profile: &'a serde_json::Map<String, Value>,
    },
    Unmapped {
        key: &'a str,
        expression: Option<&'a str>,
    },
    PushedProperty {
        key: &'a str,
        expression: &'a str,
        #[serde(rename = "pushStatus")]
        push_status: &'a str,
    },
}

/// Why one change of a plan file was refused: its address, the field, and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}`{field}` {problem}", describe_address(.address))]
pub struct ChangeError {
    /// The change's address; empty when the change has none.
    pub address: String,
    /// The field, dotted for nested ones (`precondition.lastUpdated`).
    pub field: String,
    pub problem: String,
}

fn describe_address(address: &str) -> String {
    if address.is_empty() {
        "a change: ".to_string()
    } else {
        format!("change `{address}`: ")
    }
}

impl ChangeError {
    fn new(address: &str, field: &str, problem: impl Into<String>) -> Self {
        ChangeError {
            address: address.to_string(),
            field: field.to_string(),
            problem: problem.into(),
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn forbid(address: &str, field: &str, present: bool) -> Result<(), ChangeError> {
    if present {
        Err(ChangeError::new(
            address,
            field,
            "must be null for this kind of change",
        ))
    } else {
        Ok(())
    }
}

/// The user type named by a mapping property address, when the address is
/// `directory[DOMAIN].mapping[USER TYPE].property[KEY]` for this domain and key.
pub(crate) fn mapping_user_type(address: &str, domain: &str, key: &str) -> Option<String> {
    let prefix = format!("directory[{}].mapping[", quoted(domain));
    let suffix = format!("].property[{}]", quoted(key));
    let middle = address.strip_prefix(&prefix)?.strip_suffix(&suffix)?;
    let user_type: String = serde_json::from_str(middle).ok()?;
    (!user_type.is_empty()
        && ResourceChange::mapping_property_address(domain, &user_type, key) == address)
        .then_some(user_type)
}

/// Quotes a value inside a plan address.
fn quoted(value: &str) -> String {
    Value::String(value.to_string()).to_string()
}

/// Takes a change's top-level fields one by one, naming the change in every error.
struct FieldReader<'a> {
    address: &'a str,
    fields: serde_json::Map<String, Value>,
}

impl FieldReader<'_> {
    fn error(&self, field: &str, problem: impl Into<String>) -> ChangeError {
        ChangeError::new(self.address, field, problem)
    }

    fn required<T: serde::de::DeserializeOwned>(&mut self, field: &str) -> Result<T, ChangeError> {
        match self.fields.remove(field) {
            None | Some(Value::Null) => Err(self.error(field, "is missing")),
            Some(value) => serde_json::from_value(value)
                .map_err(|e| self.error(field, format!("has the wrong type or shape: {e}"))),
        }
    }

    fn optional<T: serde::de::DeserializeOwned>(
        &mut self,
        field: &str,
    ) -> Result<Option<T>, ChangeError> {
        match self.fields.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| self.error(field, format!("has the wrong type or shape: {e}"))),
        }
    }
}

/// The object under `before`, `after` or `precondition`, read key by key.
struct Side<'a> {
    address: &'a str,
    name: &'static str,
    fields: serde_json::Map<String, Value>,
}

impl<'a> Side<'a> {
    fn required(
        address: &'a str,
        name: &'static str,
        fields: Option<serde_json::Map<String, Value>>,
    ) -> Result<Side<'a>, ChangeError> {
        match fields {
            Some(fields) if !fields.is_empty() => Ok(Side {
                address,
                name,
                fields,
            }),
            Some(_) => Err(ChangeError::new(address, name, "is empty")),
            None => Err(ChangeError::new(address, name, "is missing")),
        }
    }

    fn error(&self, key: &str, problem: impl Into<String>) -> ChangeError {
        ChangeError::new(self.address, &format!("{}.{key}", self.name), problem)
    }

    /// A string or null (absent is refused: the document always writes the key).
    fn optional_string(&mut self, key: &str) -> Result<Option<String>, ChangeError> {
        match self.fields.remove(key) {
            None => Err(self.error(key, "is missing")),
            Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.error(key, format!("is {}, not a string", type_name(&other)))),
        }
    }

    /// A key that must be present and null.
    fn null(&mut self, key: &str) -> Result<(), ChangeError> {
        match self.fields.remove(key) {
            None => Err(self.error(key, "is missing")),
            Some(Value::Null) => Ok(()),
            Some(other) => Err(self.error(key, format!("is {}, not null", type_name(&other)))),
        }
    }

    /// An integer or null (absent is refused: the document always writes the key).
    fn optional_integer(&mut self, key: &str) -> Result<Option<i64>, ChangeError> {
        match self.fields.remove(key) {
            None => Err(self.error(key, "is missing")),
            Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.error(key, "is not an integer")),
            Some(other) => {
                Err(self.error(key, format!("is {}, not an integer", type_name(&other))))
            }
        }
    }

    /// A JSON object (possibly empty).
    fn object(&mut self, key: &str) -> Result<serde_json::Map<String, Value>, ChangeError> {
        match self.fields.remove(key) {
            None | Some(Value::Null) => Err(self.error(key, "is missing")),
            Some(Value::Object(object)) => Ok(object),
            Some(other) => Err(self.error(key, format!("is {}, not an object", type_name(&other)))),
        }
    }

    fn non_empty_string(&mut self, key: &str) -> Result<String, ChangeError> {
        match self.fields.remove(key) {
            None | Some(Value::Null) => Err(self.error(key, "is missing")),
            Some(Value::String(text)) if text.trim().is_empty() => Err(self.error(key, "is empty")),
            Some(Value::String(text)) => Ok(text),
            Some(other) => Err(self.error(key, format!("is {}, not a string", type_name(&other)))),
        }
    }

    /// A string that parses as a DN.
    fn dn(&mut self, key: &str) -> Result<String, ChangeError> {
        let text = self.non_empty_string(key)?;
        match crate::dn::Dn::parse(&text) {
            Ok(_) => Ok(text),
            Err(error) => Err(self.error(
                key,
                format!(
                    "`{}` is not a valid DN ({error})",
                    crate::text::truncate_for_message(&text)
                ),
            )),
        }
    }

    fn finish(self) -> Result<(), ChangeError> {
        match self.fields.keys().next() {
            Some(unknown) => Err(self.error(unknown, "is not a field here")),
            None => Ok(()),
        }
    }
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub delete: usize,
    pub manual: usize,
}

impl Summary {
    /// Counts the changes.
    #[must_use]
    pub fn of(changes: &[ResourceChange]) -> Self {
        let mut summary = Summary::default();
        for change in changes {
            match change.action() {
                Action::Add | Action::Restore => summary.add += 1,
                Action::Update | Action::Revert => summary.change += 1,
                Action::Delete => summary.delete += 1,
            }
            if change.execution() == Execution::Manual {
                summary.manual += 1;
            }
        }
        summary
    }

    /// `true` when the plan changes nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.add + self.change + self.delete == 0
    }
}

impl Plan {
    /// Assembles a plan and seals it with its checksum.
    #[must_use]
    pub fn new(
        org_url: Option<String>,
        created_at: String,
        findings: Vec<Finding>,
        warnings: Vec<Warning>,
        resource_changes: Vec<ResourceChange>,
    ) -> Self {
        Plan::assemble(
            org_url,
            created_at,
            None,
            findings,
            warnings,
            resource_changes,
        )
    }

    /// Assembles a plan that undoes the run `undo_of` names, and seals it (`format_version`
    /// "1.1").
    #[must_use]
    pub fn new_undo(
        org_url: Option<String>,
        created_at: String,
        undo_of: UndoOf,
        warnings: Vec<Warning>,
        resource_changes: Vec<ResourceChange>,
    ) -> Self {
        Plan::assemble(
            org_url,
            created_at,
            Some(undo_of),
            Vec::new(),
            warnings,
            resource_changes,
        )
    }

    fn assemble(
        org_url: Option<String>,
        created_at: String,
        undo_of: Option<UndoOf>,
        findings: Vec<Finding>,
        warnings: Vec<Warning>,
        resource_changes: Vec<ResourceChange>,
    ) -> Self {
        let summary = Summary::of(&resource_changes);
        let mut plan = Plan {
            format_version: String::new(),
            ouguard_version: env!("CARGO_PKG_VERSION").to_string(),
            org_url,
            created_at,
            undo_of,
            findings,
            warnings,
            resource_changes,
            summary,
            evidence: None,
            checksum: String::new(),
        };
        plan.format_version = plan.needed_format_version().to_string();
        plan.checksum = plan.compute_checksum();
        plan
    }

    /// The oldest document version that holds this plan: "1.1" for an undo plan, else "1".
    #[must_use]
    pub fn needed_format_version(&self) -> &'static str {
        let reversal = self
            .resource_changes
            .iter()
            .any(|change| change.action().is_reversal());
        if self.undo_of.is_some() || reversal {
            FORMAT_VERSION
        } else {
            FORMAT_VERSION_1
        }
    }

    /// `true` when the plan changes nothing.
    #[must_use]
    pub fn has_changes(&self) -> bool {
        !self.resource_changes.is_empty()
    }

    /// The checksum the plan's current content deserves: `sha256:<hex>` over the compact
    /// JSON of every field but `checksum`, in the document's field order. Streams into the
    /// hash; nothing is copied.
    #[must_use]
    pub fn compute_checksum(&self) -> String {
        let body = PlanBody {
            format_version: &self.format_version,
            ouguard_version: &self.ouguard_version,
            org_url: self.org_url.as_deref(),
            created_at: &self.created_at,
            undo_of: self.undo_of.as_ref(),
            findings: &self.findings,
            warnings: &self.warnings,
            resource_changes: &self.resource_changes,
            summary: &self.summary,
            evidence: self.evidence.as_ref(),
        };
        let mut hasher = HashWriter(Sha256::new());
        if let Err(error) = serde_json::to_writer(&mut hasher, &body) {
            // Plain data with string keys always serializes; never panic on it anyway.
            return format!("sha256:unserializable:{error}");
        }
        let digest = hasher.0.finalize();
        let mut hex = String::with_capacity(71);
        hex.push_str("sha256:");
        for byte in digest {
            use fmt::Write as _;
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }

    /// The plan as pretty JSON, ending with a newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
        text.push('\n');
        text
    }

    /// Loads a plan document, refusing bad JSON, an unknown format version and a checksum
    /// that does not match the content.
    pub fn from_json(text: &str) -> Result<Plan, PlanFileError> {
        let value: Value = serde_json::from_str(text).map_err(|error| PlanFileError::Json {
            line: error.line(),
            column: error.column(),
            detail: error.to_string(),
        })?;
        let Value::Object(object) = &value else {
            return Err(PlanFileError::NotAPlan(
                "the document is not a JSON object".into(),
            ));
        };
        match object.get("format_version") {
            Some(Value::String(version))
                if version == FORMAT_VERSION_1 || version == FORMAT_VERSION => {}
            Some(Value::String(version)) => {
                return Err(PlanFileError::UnknownVersion(version.clone()));
            }
            Some(_) => {
                return Err(PlanFileError::NotAPlan(
                    "`format_version` is not a string".into(),
                ))
            }
            None => return Err(PlanFileError::NotAPlan("it has no `format_version`".into())),
        }
        if !matches!(object.get("checksum"), Some(Value::String(_))) {
            return Err(PlanFileError::NotAPlan("it has no `checksum`".into()));
        }
        let mut value = value;
        // The changes are read one by one, so that a refusal names the change and its field.
        let documents = match value.get_mut("resource_changes").map(Value::take) {
            Some(Value::Array(documents)) => documents,
            Some(_) => {
                return Err(PlanFileError::NotAPlan(
                    "`resource_changes` is not an array".into(),
                ))
            }
            None => {
                return Err(PlanFileError::NotAPlan(
                    "it has no `resource_changes`".into(),
                ))
            }
        };
        if let Some(slot) = value.get_mut("resource_changes") {
            *slot = Value::Array(Vec::new());
        }
        let mut plan: Plan = serde_json::from_value(value)
            .map_err(|error| PlanFileError::NotAPlan(error.to_string()))?;
        plan.resource_changes.reserve(documents.len());
        for (index, document) in documents.into_iter().enumerate() {
            let Value::Object(fields) = document else {
                return Err(PlanFileError::NotAPlan(format!(
                    "`resource_changes[{index}]` is not a JSON object"
                )));
            };
            let change = ResourceChange::from_document(fields)
                .map_err(|error| PlanFileError::Change { index, error })?;
            plan.resource_changes.push(change);
        }
        let actual = plan.compute_checksum();
        if plan.checksum != actual {
            return Err(PlanFileError::ChecksumMismatch {
                stated: plan.checksum,
                actual,
            });
        }
        if plan.format_version == FORMAT_VERSION_1
            && plan.needed_format_version() != FORMAT_VERSION_1
        {
            return Err(PlanFileError::NotAPlan(format!(
                "it is `format_version` \"1\" but undoes a run (`undo_of`, `revert` or \
                 `restore`), which needs \"{FORMAT_VERSION}\""
            )));
        }
        if plan.undo_of.is_none() {
            if let Some(change) = plan
                .resource_changes
                .iter()
                .find(|c| c.action().is_reversal())
            {
                return Err(PlanFileError::NotAPlan(format!(
                    "change `{}` is a `{}`, which only a plan that undoes a run has, and the \
                     plan has no `undo_of`",
                    change.address,
                    change.action().name()
                )));
            }
        }
        if let Some(undo_of) = &plan.undo_of {
            if undo_of.run_record.trim().is_empty() || undo_of.plan_checksum.trim().is_empty() {
                return Err(PlanFileError::NotAPlan(
                    "its `undo_of` names no run record or no plan checksum".into(),
                ));
            }
        }
        if plan.summary != Summary::of(&plan.resource_changes) {
            return Err(PlanFileError::NotAPlan(
                "its `summary` does not count its `resource_changes`".into(),
            ));
        }
        Ok(plan)
    }
}

/// Why a plan file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanFileError {
    #[error("it is not valid JSON (line {line}, column {column}): {detail}")]
    Json {
        line: usize,
        column: usize,
        detail: String,
    },
    #[error(
        "its `format_version` is `{0}`, but this ouguard reads versions `{FORMAT_VERSION_1}` and \
         `{FORMAT_VERSION}`: make the plan again with this version"
    )]
    UnknownVersion(String),
    #[error("it is not an ouguard plan: {0}")]
    NotAPlan(String),
    #[error("`resource_changes[{index}]`: {error}")]
    Change { index: usize, error: ChangeError },
    #[error(
        "its checksum does not match its content (stated `{stated}`, actual `{actual}`): the \
         file was edited after it was made; make the plan again"
    )]
    ChecksumMismatch { stated: String, actual: String },
}

/// Every field of a plan but its checksum, borrowed: what the checksum covers.
#[derive(Serialize)]
struct PlanBody<'a> {
    format_version: &'a str,
    ouguard_version: &'a str,
    org_url: Option<&'a str>,
    created_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    undo_of: Option<&'a UndoOf>,
    findings: &'a [Finding],
    warnings: &'a [Warning],
    resource_changes: &'a [ResourceChange],
    summary: &'a Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<&'a crate::evidence::PlanEvidence>,
}

/// Feeds written bytes to the hash.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Plan {
        Plan::new(
            Some("https://acme.okta.com".into()),
            "2026-11-29T18:00:00Z".into(),
            vec![],
            vec![],
            vec![],
        )
    }

    #[test]
    fn round_trips_and_verifies() {
        let plan = sample();
        let loaded = Plan::from_json(&plan.to_json()).unwrap();
        assert_eq!(loaded, plan);
        assert!(plan.checksum.starts_with("sha256:"));
    }

    #[test]
    fn checksum_ignores_whitespace_and_refuses_unknown_fields() {
        let plan = sample();
        let compact = serde_json::to_string(&plan).unwrap();
        assert!(Plan::from_json(&compact).is_ok());
        let mut value = serde_json::to_value(&plan).unwrap();
        value["surprise"] = true.into();
        let text = serde_json::to_string(&value).unwrap();
        assert!(matches!(
            Plan::from_json(&text),
            Err(PlanFileError::NotAPlan(_))
        ));
    }

    #[test]
    fn refuses_tampering() {
        let text = sample().to_json().replace("acme.okta.com", "evil.okta.com");
        assert!(matches!(
            Plan::from_json(&text),
            Err(PlanFileError::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn refuses_bad_json_and_versions() {
        let text = sample().to_json();
        let truncated = &text[..text.len() / 2];
        assert!(matches!(
            Plan::from_json(truncated),
            Err(PlanFileError::Json { .. })
        ));
        let v2 = text.replace("\"format_version\": \"1\"", "\"format_version\": \"2\"");
        assert_eq!(
            Plan::from_json(&v2),
            Err(PlanFileError::UnknownVersion("2".into()))
        );
        assert!(matches!(
            Plan::from_json("[]"),
            Err(PlanFileError::NotAPlan(_))
        ));
        assert!(matches!(
            Plan::from_json("{}"),
            Err(PlanFileError::NotAPlan(_))
        ));
    }

    #[test]
    fn refuses_a_resealed_plan_whose_summary_lies() {
        let mut lying = sample();
        lying.summary.add = 3;
        lying.checksum = lying.compute_checksum();
        let text = lying.to_json();
        assert!(matches!(
            Plan::from_json(&text),
            Err(PlanFileError::NotAPlan(_))
        ));
    }
    /// The committed example plans load, and write back byte for byte as they were.
    #[test]
    fn committed_plans_load_and_round_trip() {
        for name in ["demo-add-ou.json", "demo-retarget.json"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("plans")
                .join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            let plan = Plan::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(plan.has_changes());
            assert_eq!(plan.to_json(), text, "{name} re-serializes unchanged");
        }
    }

    fn retarget_document() -> Value {
        serde_json::json!({
            "address": "directory[\"corp.example.com\"].group[\"Marketing\"].target_ou",
            "kind": "group_target_ou",
            "action": "update",
            "execution": "api",
            "finding": "R1:corp.example.com:00g1",
            "directory": {"app_id": "0oa1", "domain": "corp.example.com"},
            "group": {"id": "00g1", "name": "Marketing"},
            "mapping_id": null,
            "before": {"organizationalUnit": "OU=Marketing,DC=corp,DC=example,DC=com"},
            "after": {"organizationalUnit": "OU=Staff,DC=corp,DC=example,DC=com"},
            "precondition": {
                "lastUpdated": "2026-11-01T09:00:00.000Z",
                "organizationalUnit": "OU=Marketing,DC=corp,DC=example,DC=com"
            }
        })
    }

    fn mapping_document() -> Value {
        serde_json::json!({
            "address": "directory[\"emea.example.com\"].mapping[\"user\"].property[\"dn\"]",
            "kind": "mapping_property",
            "action": "delete",
            "execution": "api",
            "finding": "R2:emea.example.com:prm1:dn",
            "directory": {"app_id": "0oa2", "domain": "emea.example.com"},
            "group": null,
            "mapping_id": "prm1",
            "before": {"key": "dn", "expression": "user.dn"},
            "after": null,
            "precondition": {"key": "dn", "expression": "user.dn"}
        })
    }

    fn load(document: Value) -> Result<ResourceChange, ChangeError> {
        let Value::Object(fields) = document else {
            panic!("an object")
        };
        ResourceChange::from_document(fields)
    }

    fn refused(document: Value) -> ChangeError {
        load(document).expect_err("refused")
    }

    #[test]
    fn typed_changes_round_trip_to_the_same_document() {
        for document in [retarget_document(), mapping_document()] {
            let change = load(document.clone()).unwrap();
            assert_eq!(serde_json::to_value(&change).unwrap(), document);
        }
        let change = load(mapping_document()).unwrap();
        let ChangeDetails::MappingPropertyDelete(delete) = &change.details else {
            panic!("a delete")
        };
        assert_eq!(delete.user_type, "user");
        assert_eq!(delete.key, "dn");
    }

    /// Every refusal names the change's address and the field (table-driven).
    #[test]
    fn bad_changes_are_refused_naming_the_address_and_field() {
        let retarget = "directory[\"corp.example.com\"].group[\"Marketing\"].target_ou";
        let mapping = "directory[\"emea.example.com\"].mapping[\"user\"].property[\"dn\"]";
        type Edit = fn(&mut Value);
        let cases: Vec<(&str, Value, Edit, &str, &str)> = vec![
            (
                "missing after",
                retarget_document(),
                |d| {
                    d["after"] = Value::Null;
                },
                retarget,
                "after",
            ),
            (
                "after not a DN",
                retarget_document(),
                |d| {
                    d["after"]["organizationalUnit"] = "Evil".into();
                },
                retarget,
                "after.organizationalUnit",
            ),
            (
                "after empty",
                retarget_document(),
                |d| {
                    d["after"]["organizationalUnit"] = "".into();
                },
                retarget,
                "after.organizationalUnit",
            ),
            (
                "after a number",
                retarget_document(),
                |d| {
                    d["after"]["organizationalUnit"] = 5.into();
                },
                retarget,
                "after.organizationalUnit",
            ),
            (
                "no precondition",
                retarget_document(),
                |d| {
                    d["precondition"] = Value::Null;
                },
                retarget,
                "precondition",
            ),
            (
                "empty precondition",
                retarget_document(),
                |d| {
                    d["precondition"] = serde_json::json!({});
                },
                retarget,
                "precondition",
            ),
            (
                "empty lastUpdated",
                retarget_document(),
                |d| {
                    d["precondition"]["lastUpdated"] = "".into();
                },
                retarget,
                "precondition.lastUpdated",
            ),
            (
                "missing lastUpdated",
                retarget_document(),
                |d| {
                    d["precondition"]
                        .as_object_mut()
                        .unwrap()
                        .remove("lastUpdated");
                },
                retarget,
                "precondition.lastUpdated",
            ),
            (
                "precondition differs",
                retarget_document(),
                |d| {
                    d["precondition"]["organizationalUnit"] =
                        "OU=X,DC=corp,DC=example,DC=com".into();
                },
                retarget,
                "precondition.organizationalUnit",
            ),
            (
                "no group",
                retarget_document(),
                |d| {
                    d["group"] = Value::Null;
                },
                retarget,
                "group",
            ),
            (
                "group wrong type",
                retarget_document(),
                |d| {
                    d["group"] = 7.into();
                },
                retarget,
                "group",
            ),
            (
                "unknown kind",
                retarget_document(),
                |d| {
                    d["kind"] = "user".into();
                },
                retarget,
                "kind",
            ),
            (
                "unknown pair",
                retarget_document(),
                |d| {
                    d["action"] = "delete".into();
                },
                retarget,
                "kind",
            ),
            (
                "wrong execution",
                retarget_document(),
                |d| {
                    d["execution"] = "manual".into();
                },
                retarget,
                "execution",
            ),
            (
                "unknown field",
                retarget_document(),
                |d| {
                    d["surprise"] = true.into();
                },
                retarget,
                "surprise",
            ),
            (
                "unknown field in after",
                retarget_document(),
                |d| {
                    d["after"]["priority"] = 1.into();
                },
                retarget,
                "after.priority",
            ),
            (
                "address names another group",
                retarget_document(),
                |d| {
                    d["group"]["name"] = "Sales".into();
                },
                retarget,
                "address",
            ),
            (
                "delete of another key",
                mapping_document(),
                |d| {
                    d["before"]["key"] = "firstName".into();
                    d["precondition"]["key"] = "firstName".into();
                },
                mapping,
                "address",
            ),
            (
                "precondition key differs",
                mapping_document(),
                |d| {
                    d["precondition"]["key"] = "firstName".into();
                },
                mapping,
                "precondition.key",
            ),
            (
                "no mapping id",
                mapping_document(),
                |d| {
                    d["mapping_id"] = Value::Null;
                },
                mapping,
                "mapping_id",
            ),
            (
                "empty expression",
                mapping_document(),
                |d| {
                    d["before"]["expression"] = "".into();
                },
                mapping,
                "before.expression",
            ),
            (
                "a delete with an after",
                mapping_document(),
                |d| {
                    d["after"] = serde_json::json!({"key": "dn"});
                },
                mapping,
                "after",
            ),
        ];
        for (name, mut document, edit, address, field) in cases {
            edit(&mut document);
            let error = refused(document);
            assert_eq!(error.address, address, "{name}: {error}");
            assert_eq!(error.field, field, "{name}: {error}");
            let text = error.to_string();
            assert!(
                text.contains(address) && text.contains(&format!("`{field}`")),
                "{name}: {text}"
            );
        }
        let mut no_address = retarget_document();
        no_address.as_object_mut().unwrap().remove("address");
        assert_eq!(refused(no_address).field, "address");
    }

    fn revert_document() -> Value {
        serde_json::json!({
            "address": "directory[\"corp.example.com\"].group[\"Marketing\"].target_ou",
            "kind": "group_target_ou",
            "action": "revert",
            "execution": "api",
            "finding": "R1:corp.example.com:00g1",
            "directory": {"app_id": "0oa1", "domain": "corp.example.com"},
            "group": {"id": "00g1", "name": "Marketing"},
            "mapping_id": null,
            "before": {"organizationalUnit": "OU=Staff,DC=corp,DC=example,DC=com"},
            "after": {
                "organizationalUnit": "OU=Marketing,DC=corp,DC=example,DC=com",
                "priority": 2,
                "profile": {
                    "organizationalUnit": "OU=Marketing,DC=corp,DC=example,DC=com",
                    "samAccountName": null
                }
            },
            "precondition": {
                "lastUpdated": "2026-11-30T10:00:00.000Z",
                "organizationalUnit": "OU=Staff,DC=corp,DC=example,DC=com"
            }
        })
    }

    fn restore_document() -> Value {
        serde_json::json!({
            "address": "directory[\"emea.example.com\"].mapping[\"user\"].property[\"dn\"]",
            "kind": "mapping_property",
            "action": "restore",
            "execution": "api",
            "finding": "R2:emea.example.com:prm1:dn",
            "directory": {"app_id": "0oa2", "domain": "emea.example.com"},
            "group": null,
            "mapping_id": "prm1",
            "before": {"key": "dn", "expression": null},
            "after": {"key": "dn", "expression": "user.dn", "pushStatus": "PUSH"},
            "precondition": {"key": "dn", "expression": null}
        })
    }

    fn undo_plan() -> Plan {
        Plan::new_undo(
            Some("https://acme.okta.com".into()),
            "2026-11-30T11:00:00Z".into(),
            UndoOf {
                run_record: ".ouguard/runs/r.jsonl".into(),
                plan_checksum: "sha256:abc".into(),
            },
            vec![],
            vec![
                load(revert_document()).unwrap(),
                load(restore_document()).unwrap(),
            ],
        )
    }

    #[test]
    fn an_undo_plan_is_format_1_1_with_undo_of_under_the_checksum() {
        for document in [revert_document(), restore_document()] {
            let change = load(document.clone()).unwrap();
            assert_eq!(serde_json::to_value(&change).unwrap(), document);
        }
        let plan = undo_plan();
        assert_eq!(plan.format_version, "1.1");
        assert_eq!(
            sample().format_version,
            "1",
            "plans without undo stay \"1\""
        );
        assert_eq!((plan.summary.add, plan.summary.change), (1, 1));
        let text = plan.to_json();
        assert_eq!(Plan::from_json(&text).unwrap(), plan);
        assert!(text.contains("\"undo_of\": {"), "{text}");
        let edited = text.replace("sha256:abc", "sha256:abd");
        assert!(matches!(
            Plan::from_json(&edited),
            Err(PlanFileError::ChecksumMismatch { .. })
        ));
        // A "1" plan may not undo, and a reversal needs `undo_of` (both resealed).
        let mut v1 = plan.clone();
        v1.format_version = "1".into();
        v1.checksum = v1.compute_checksum();
        assert!(matches!(
            Plan::from_json(&v1.to_json()),
            Err(PlanFileError::NotAPlan(m)) if m.contains("needs \"1.1\"")
        ));
        let mut orphan = plan.clone();
        orphan.undo_of = None;
        orphan.checksum = orphan.compute_checksum();
        assert!(matches!(
            Plan::from_json(&orphan.to_json()),
            Err(PlanFileError::NotAPlan(m)) if m.contains("no `undo_of`")
        ));
        let v3 = text.replace("\"format_version\": \"1.1\"", "\"format_version\": \"1.2\"");
        assert_eq!(
            Plan::from_json(&v3),
            Err(PlanFileError::UnknownVersion("1.2".into()))
        );
    }

    #[test]
    fn bad_reversals_are_refused_naming_the_field() {
        type Edit = fn(&mut Value);
        let cases: Vec<(Value, Edit, &str)> = vec![
            (
                revert_document(),
                |d| {
                    d["after"]["profile"]["organizationalUnit"] =
                        "OU=X,DC=corp,DC=example,DC=com".into();
                },
                "after.organizationalUnit",
            ),
            (
                revert_document(),
                |d| {
                    d["after"]["priority"] = "high".into();
                },
                "after.priority",
            ),
            (
                revert_document(),
                |d| {
                    d["after"]["profile"] = Value::Null;
                },
                "after.profile",
            ),
            (
                revert_document(),
                |d| {
                    d["after"].as_object_mut().unwrap().remove("priority");
                },
                "after.priority",
            ),
            (
                revert_document(),
                |d| {
                    d["precondition"]["organizationalUnit"] = Value::Null;
                },
                "precondition.organizationalUnit",
            ),
            (
                revert_document(),
                |d| {
                    d["precondition"]["lastUpdated"] = "".into();
                },
                "precondition.lastUpdated",
            ),
            (
                revert_document(),
                |d| {
                    d["after"]["memberOf"] = serde_json::json!([]);
                },
                "after.memberOf",
            ),
            (
                restore_document(),
                |d| {
                    d["after"]["pushStatus"] = "ALWAYS".into();
                },
                "after.pushStatus",
            ),
            (
                restore_document(),
                |d| {
                    d["after"]["expression"] = Value::Null;
                },
                "after.expression",
            ),
            (
                restore_document(),
                |d| {
                    d["precondition"]["expression"] = "user.dn".into();
                },
                "precondition.expression",
            ),
            (
                restore_document(),
                |d| {
                    d["before"]["key"] = "firstName".into();
                },
                "before.key",
            ),
            (
                restore_document(),
                |d| {
                    d["after"]["key"] = "firstName".into();
                    d["before"]["key"] = "firstName".into();
                    d["precondition"]["key"] = "firstName".into();
                },
                "address",
            ),
        ];
        for (mut document, edit, field) in cases {
            edit(&mut document);
            let error = refused(document);
            assert_eq!(error.field, field, "{error}");
        }
    }

    #[test]
    fn a_plan_file_with_a_bad_change_names_its_index() {
        let mut plan = sample();
        plan.resource_changes
            .push(load(retarget_document()).unwrap());
        plan.summary = Summary::of(&plan.resource_changes);
        plan.checksum = plan.compute_checksum();
        let mut value = serde_json::to_value(&plan).unwrap();
        value["resource_changes"][0]["after"]["organizationalUnit"] = "not a dn".into();
        let text = value.to_string();
        let error = Plan::from_json(&text).expect_err("refused");
        assert!(
            matches!(error, PlanFileError::Change { index: 0, .. }),
            "{error}"
        );
        let text = error.to_string();
        assert!(text.contains("`resource_changes[0]`"), "{text}");
        assert!(text.contains("`after.organizationalUnit`"), "{text}");
    }
}
