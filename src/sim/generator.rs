//! Deterministic large orgs for load tests and benchmarks: many directories, groups, import
//! OUs and user types, with skewed directory sizes and a sprinkling of every finding.
//! Pure: same parameters, same org; no I/O, no clock.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::ids::derived_id;
use super::seed::{assignment, directory, to_app_mapping};
use crate::state::{AppStatus, GroupAssignment, OrgState, UserType};

/// Shape of a generated org.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorParams {
    /// Number of AD directories (at least 1 is generated).
    pub directories: usize,
    /// Total number of group assignments across directories.
    pub groups: usize,
    /// Import OUs per directory (at least 1).
    pub import_ous: usize,
    /// Number of user types (at least 1: the default).
    pub user_types: usize,
    /// Share of all groups held by the first directory (0.0..=1.0; e.g. 0.4).
    pub skew: f64,
    pub seed: u64,
}

impl Default for GeneratorParams {
    fn default() -> GeneratorParams {
        GeneratorParams {
            directories: 10,
            groups: 5_000,
            import_ous: 5,
            user_types: 3,
            skew: 0.4,
            seed: 1,
        }
    }
}

/// Splits `total` groups: `skew` of them to the first directory, the rest evenly.
fn sizes(total: usize, directories: usize, skew: f64) -> Vec<usize> {
    if directories == 1 {
        return vec![total];
    }
    let skew = if skew.is_finite() {
        skew.clamp(0.0, 1.0)
    } else {
        0.0
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let first = ((total as f64) * skew).round() as usize;
    let first = first.min(total);
    let rest = total - first;
    let others = directories - 1;
    let mut out = vec![first];
    for i in 0..others {
        out.push(rest / others + usize::from(i < rest % others));
    }
    out
}

/// A large, deterministic org. About 85% of assignments target an import OU or below one;
/// the rest are unimported OUs, other-case spellings (fine), other domains, bad DNs and
/// missing OUs. Every fifth directory maps `dn`; every seventh is INACTIVE.
#[must_use]
pub fn large_org(params: GeneratorParams) -> OrgState {
    let params = &params;
    let mut rng = StdRng::seed_from_u64(params.seed);
    let directories = params.directories.max(1);
    let user_types: Vec<UserType> = (0..params.user_types.max(1))
        .map(|i| {
            let name = if i == 0 {
                "user".to_string()
            } else {
                format!("type{i}")
            };
            UserType {
                id: derived_id("oty", &format!("gen:{}:{name}", params.seed)),
                display_name: Some(if i == 0 {
                    "User".into()
                } else {
                    format!("Type {i}")
                }),
                name,
                default: i == 0,
            }
        })
        .collect();
    let mut out = Vec::with_capacity(directories);
    let mut group_no = 0usize;
    for (d, size) in sizes(params.groups, directories, params.skew)
        .into_iter()
        .enumerate()
    {
        let domain = format!("d{d:03}.example.com");
        let base = format!("DC=d{d:03},DC=example,DC=com");
        let imports: Vec<String> = (0..params.import_ous.max(1))
            .map(|i| format!("OU=Unit{i},{base}"))
            .collect();
        let import_refs: Vec<&str> = imports.iter().map(String::as_str).collect();
        let status = if d % 7 == 6 {
            AppStatus::Inactive
        } else {
            AppStatus::Active
        };
        let mut dir = directory(&domain, status, &import_refs);
        dir.app_id = derived_id("0oa", &format!("gen:{}:{domain}", params.seed));
        dir.assignments = (0..size)
            .map(|i| {
                group_no += 1;
                let name = format!("Group {group_no:06}");
                let roll: u32 = rng.gen_range(0..100);
                let unit = rng.gen_range(0..imports.len());
                let ou = match roll {
                    0..=69 => Some(format!("OU=Team{i},{}", imports[unit])),
                    70..=79 => Some(imports[unit].clone()),
                    80..=84 => Some(imports[unit].to_lowercase().replace(',', ", ")),
                    85..=92 => Some(format!("OU=Legacy{},{base}", i % 17)),
                    93..=95 => Some(format!("OU=X,DC=elsewhere{},DC=example,DC=com", i % 3)),
                    96..=97 => Some(format!("OU=Broken,,{base}")),
                    _ => None,
                };
                let mut a: GroupAssignment =
                    assignment(&name, ou.as_deref(), i64::try_from(i).unwrap_or(i64::MAX));
                a.group_id = derived_id("00g", &format!("gen:{}:{name}", params.seed));
                a
            })
            .collect();
        let dn_rule: &[(&str, &str)] = if d % 5 == 4 {
            &[("dn", "\"CN=\" + user.login")]
        } else {
            &[]
        };
        dir.mappings = user_types
            .iter()
            .enumerate()
            .map(|(i, t)| to_app_mapping(t, &dir.app_id, if i == 0 { dn_rule } else { &[] }))
            .collect();
        out.push(dir);
    }
    OrgState {
        format_version: crate::state::SNAPSHOT_FORMAT_VERSION.to_string(),
        org_url: None,
        user_types,
        directories: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_skewed_and_sum_up() {
        let s = sizes(1000, 5, 0.4);
        assert_eq!(s.iter().sum::<usize>(), 1000);
        assert_eq!(s[0], 400);
        assert_eq!(sizes(7, 1, 0.4), vec![7]);
    }

    #[test]
    fn generation_is_deterministic() {
        let p = GeneratorParams {
            groups: 300,
            ..GeneratorParams::default()
        };
        let a = large_org(p.clone());
        assert_eq!(a, large_org(p.clone()));
        assert_eq!(
            a.directories
                .iter()
                .map(|d| d.assignments.len())
                .sum::<usize>(),
            300
        );
        let other = large_org(GeneratorParams { seed: 2, ..p });
        assert_ne!(a, other);
        // Group ids are unique across the org.
        let mut ids: Vec<_> = a
            .directories
            .iter()
            .flat_map(|d| d.assignments.iter().map(|x| x.group_id.clone()))
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 300);
    }
}
