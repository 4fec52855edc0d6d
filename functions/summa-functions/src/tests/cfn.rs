//! infra/template.yaml as the IAM and proof API tests read it: the YAML with
//! CloudFormation's short tags in their long form (`!Sub x` is `{"Fn::Sub": x}`),
//! its intrinsic functions evaluated for chosen parameters ([`Stack`]), the
//! statements of a resource's policies ([`Stack::statements`]) and IAM's
//! matching of actions and S3 ARNs ([`arn_matches`], [`allows`]).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::repo;

/// The template, its short tags in long form.
pub(super) fn template() -> Value {
    let path = repo().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    long_form(yaml)
}

/// `yaml` as JSON, each tag in CloudFormation's long form.
fn long_form(yaml: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap(),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_json::to_string(&long_form(other)).unwrap(),
                    };
                    (key, long_form(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = long_form(t.value);
            match (name, inner) {
                ("Ref" | "Condition", v) => json!({ name: v }),
                ("GetAtt", Value::String(s)) => {
                    let (resource, attribute) = s.split_once('.').expect("!GetAtt R.Attr");
                    json!({ "Fn::GetAtt": [resource, attribute] })
                }
                (_, v) => json!({ format!("Fn::{name}"): v }),
            }
        }
    }
}

/// The account, region and stack the tests deploy to, on paper.
const PSEUDO: [(&str, &str); 6] = [
    ("AWS::Partition", "aws"),
    ("AWS::Region", "us-east-1"),
    ("AWS::AccountId", "123456789012"),
    ("AWS::StackName", "summa"),
    ("AWS::URLSuffix", "amazonaws.com"),
    (
        "AWS::StackId",
        "arn:aws:cloudformation:us-east-1:123456789012:stack/summa/4f1c5d2e-0a1b-11ee-be56-0242ac120002",
    ),
];

/// The template deployed with some parameters: its intrinsic functions
/// evaluated. `Ref` of the round bucket is its name and `GetAtt` its ARN; of any
/// other resource, a placeholder naming it.
pub(super) struct Stack {
    template: Value,
    parameters: BTreeMap<String, Value>,
}

impl Stack {
    /// The template with `overrides` of its parameters' defaults.
    pub(super) fn new(template: Value, overrides: &[(&str, &str)]) -> Stack {
        let mut parameters = BTreeMap::new();
        let declared = template["Parameters"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, p) in &declared {
            let given = overrides.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
            let value = match (given, &p["Default"]) {
                (Some(v), _) => v.to_string(),
                (None, Value::String(s)) => s.clone(),
                (None, Value::Number(n)) => n.to_string(),
                (None, other) => panic!("parameter {name}: no value (default {other})"),
            };
            let value = if p["Type"] == "CommaDelimitedList" {
                json!(value.split(',').collect::<Vec<_>>())
            } else {
                json!(value)
            };
            parameters.insert(name.clone(), value);
        }
        for (name, _) in overrides {
            assert!(declared.contains_key(*name), "no parameter {name}");
        }
        Stack {
            template,
            parameters,
        }
    }

    /// The template as read.
    pub(super) fn template(&self) -> &Value {
        &self.template
    }

    /// The round bucket's name.
    pub(super) fn bucket(&self) -> String {
        let props = &self.template["Resources"]["RoundBucket"]["Properties"];
        self.eval(&props["BucketName"])
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Whether condition `name` holds.
    pub(super) fn condition(&self, name: &str) -> bool {
        let c = &self.template["Conditions"][name];
        assert!(!c.is_null(), "no condition {name}");
        self.truth(c)
    }

    fn truth(&self, v: &Value) -> bool {
        self.eval(v).and_then(|v| v.as_bool()).expect("a condition")
    }

    /// `v` with its intrinsic functions evaluated; `None` for `AWS::NoValue`
    /// (which removes the property, or the list item, that holds it).
    pub(super) fn eval(&self, v: &Value) -> Option<Value> {
        match v {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|i| self.eval(i)).collect(),
            )),
            Value::Object(m) if m.len() == 1 => {
                let (name, arg) = m.iter().next().unwrap();
                if name == "Ref" || name == "Condition" || name.starts_with("Fn::") {
                    self.function(name, arg)
                } else {
                    Some(self.object(m))
                }
            }
            Value::Object(m) => Some(self.object(m)),
            other => Some(other.clone()),
        }
    }

    fn object(&self, m: &Map<String, Value>) -> Value {
        Value::Object(
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), self.eval(v)?)))
                .collect(),
        )
    }

    fn string(&self, v: &Value) -> String {
        match self.eval(v) {
            Some(Value::String(s)) => s,
            other => panic!("{v}: not a string ({other:?})"),
        }
    }

    fn function(&self, name: &str, arg: &Value) -> Option<Value> {
        let args = || arg.as_array().unwrap_or_else(|| panic!("{name}: {arg}"));
        Some(match name {
            "Ref" => return self.reference(arg.as_str().expect("Ref names a string")),
            "Condition" => json!(self.condition(arg.as_str().unwrap())),
            "Fn::GetAtt" => {
                let a = args();
                json!(self.attribute(a[0].as_str().unwrap(), a[1].as_str().unwrap()))
            }
            "Fn::Sub" => json!(self.sub(arg)),
            "Fn::If" => {
                let a = args();
                let branch = if self.condition(a[0].as_str().unwrap()) {
                    &a[1]
                } else {
                    &a[2]
                };
                return self.eval(branch);
            }
            "Fn::Equals" => json!(self.eval(&args()[0]) == self.eval(&args()[1])),
            "Fn::Not" => json!(!self.truth(&args()[0])),
            "Fn::And" => json!(args().iter().all(|c| self.truth(c))),
            "Fn::Or" => json!(args().iter().any(|c| self.truth(c))),
            "Fn::Join" => {
                let a = args();
                let items = self.eval(&a[1]).unwrap();
                let items: Vec<String> = items
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| self.string(i))
                    .collect();
                json!(items.join(&self.string(&a[0])))
            }
            "Fn::Select" => {
                let a = args();
                let i = match self.eval(&a[0]) {
                    Some(Value::Number(n)) => n.as_u64().unwrap() as usize,
                    Some(Value::String(s)) => s.parse().unwrap(),
                    other => panic!("Fn::Select's index: {other:?}"),
                };
                self.eval(&a[1]).unwrap()[i].clone()
            }
            "Fn::Split" => {
                let a = args();
                json!(self
                    .string(&a[1])
                    .split(&self.string(&a[0]))
                    .collect::<Vec<_>>())
            }
            other => panic!("the tests do not evaluate {other}"),
        })
    }

    fn reference(&self, name: &str) -> Option<Value> {
        if name == "AWS::NoValue" {
            return None;
        }
        if let Some((_, v)) = PSEUDO.iter().find(|(n, _)| *n == name) {
            return Some(json!(v));
        }
        if let Some(v) = self.parameters.get(name) {
            return Some(v.clone());
        }
        assert!(
            !self.template["Resources"][name].is_null(),
            "Ref {name}: no such parameter or resource"
        );
        Some(json!(if name == "RoundBucket" {
            self.bucket()
        } else {
            format!("{name}-ref")
        }))
    }

    fn attribute(&self, resource: &str, attribute: &str) -> String {
        assert!(
            !self.template["Resources"][resource].is_null(),
            "GetAtt {resource}: no such resource"
        );
        match (resource, attribute) {
            ("RoundBucket", "Arn") => format!("arn:aws:s3:::{}", self.bucket()),
            _ => format!("{resource}-{attribute}"),
        }
    }

    /// `Fn::Sub`: `${Name}` is a variable of its map, a `Ref` or (`${R.Attr}`) a
    /// `GetAtt`; `${!x}` is the text `${x}`.
    fn sub(&self, arg: &Value) -> String {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(a) => (
                a[0].as_str().unwrap(),
                a[1].as_object().cloned().unwrap_or_default(),
            ),
            other => panic!("Fn::Sub {other}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let end = rest[at..].find('}').expect("a closed ${...}") + at;
            let name = &rest[at + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.get(name) {
                out.push_str(&self.string(v));
            } else if let Some((r, a)) = name.split_once('.') {
                out.push_str(&self.attribute(r, a));
            } else {
                out.push_str(&self.string(&json!({ "Ref": name })));
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The statements of `resource`'s inline policies (a SAM function's or
    /// state machine's `Policies`), evaluated. A form the check cannot judge
    /// (a managed policy by name or ARN, a SAM policy template, `NotAction`,
    /// `NotResource`, a `Condition`) fails the test, so that it is not skipped.
    pub(super) fn statements(&self, resource: &str) -> Vec<Statement> {
        let r = &self.template["Resources"][resource];
        assert!(!r.is_null(), "no resource {resource}");
        let policies = self.eval(&r["Properties"]["Policies"]).unwrap_or_default();
        let mut out = Vec::new();
        for p in policies
            .as_array()
            .unwrap_or_else(|| panic!("{resource}: no Policies"))
        {
            let Some(statements) = p.get("Statement").and_then(Value::as_array) else {
                panic!("{resource}: a policy the check cannot read (a managed policy or a SAM policy template): {p}");
            };
            for s in statements {
                for unsupported in ["NotAction", "NotResource", "Condition", "Principal"] {
                    assert!(
                        s.get(unsupported).is_none(),
                        "{resource}: a statement with {unsupported}, which the check does not judge: {s}"
                    );
                }
                let list = |v: &Value| -> Vec<String> {
                    match v {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(a) => {
                            a.iter().map(|i| i.as_str().unwrap().to_string()).collect()
                        }
                        other => panic!("{resource}: {other}"),
                    }
                };
                out.push(Statement {
                    allow: match s["Effect"].as_str() {
                        Some("Allow") => true,
                        Some("Deny") => false,
                        other => panic!("{resource}: Effect {other:?}"),
                    },
                    actions: list(&s["Action"]),
                    resources: list(&s["Resource"]),
                });
            }
        }
        out
    }
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Statement {
    /// `Effect: Allow` (else `Deny`).
    pub allow: bool,
    /// Its actions (`s3:GetObject`, patterns allowed).
    pub actions: Vec<String>,
    /// Its resources' ARN patterns.
    pub resources: Vec<String>,
}

/// Whether IAM's pattern `pattern` matches `text`: `*` any run of characters,
/// `/` included, `?` any one character, the rest exactly (case-sensitive, as
/// S3 ARNs are).
pub(super) fn arn_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Greedy with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if let Some((si, sj)) = star {
            // The last `*` takes one more character.
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// Whether the action pattern `pattern` (`s3:Get*`) matches `action`; IAM's
/// action names are not case-sensitive.
pub(super) fn action_matches(pattern: &str, action: &str) -> bool {
    arn_matches(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// Whether `statements` allow `action` on `arn`: some Allow matches, no Deny does.
pub(super) fn allows(statements: &[Statement], action: &str, arn: &str) -> bool {
    let matching = |s: &&Statement| {
        s.actions.iter().any(|a| action_matches(a, action))
            && s.resources.iter().any(|r| arn_matches(r, arn))
    };
    let hits: Vec<&Statement> = statements.iter().filter(matching).collect();
    !hits.is_empty() && hits.iter().all(|s| s.allow)
}

#[test]
fn arn_patterns_match_as_iam_does() {
    let object = "arn:aws:s3:::b/rounds/r1/runs/x/plan.json";
    for (pattern, matches) in [
        ("arn:aws:s3:::b/*/runs/*/plan.json", true),
        // `*` crosses `/`: a prefix of several segments, and a run.
        ("arn:aws:s3:::b/*/plan.json", true),
        ("arn:aws:s3:::b/*", true),
        ("arn:aws:s3:::b/rounds/r1/runs/?/plan.json", true),
        ("arn:aws:s3:::b/rounds/r1/runs/??/plan.json", false),
        ("arn:aws:s3:::b/*/runs/*/items.json", false),
        ("arn:aws:s3:::b/*/result.json", false),
        ("arn:aws:s3:::b/*/runs/*/Plan.json", false),
        ("arn:aws:s3:::b", false),
        ("arn:aws:s3:::other/*", false),
        ("*", true),
        ("arn:aws:s3:::b/rounds/r1/runs/x/plan.json", true),
        ("arn:aws:s3:::b/rounds/r1/runs/x/plan.jso", false),
        ("arn:aws:s3:::b/rounds/r1/runs/x/plan.json*", true),
    ] {
        assert_eq!(arn_matches(pattern, object), matches, "{pattern}");
    }
    // A key that needs the backtracking: `*` first takes too little.
    assert!(arn_matches("a*b*c", "a-b-b-c"));
    assert!(!arn_matches("a*b*c", "a-b-b-d"));
    assert!(arn_matches("", ""));
    assert!(!arn_matches("", "x"));
    assert!(action_matches("s3:Get*", "s3:GetObject"));
    assert!(action_matches("S3:getobject", "s3:GetObject"));
    assert!(!action_matches("s3:GetObject", "s3:GetObjectAcl"));
    assert!(!action_matches("s3:PutObject", "s3:GetObject"));
}

#[test]
fn a_deny_wins_and_nothing_is_allowed_by_default() {
    let allow = Statement {
        allow: true,
        actions: vec!["s3:*".into()],
        resources: vec!["arn:aws:s3:::b/*".into()],
    };
    let deny = Statement {
        allow: false,
        actions: vec!["s3:DeleteObject".into()],
        resources: vec!["arn:aws:s3:::b/*/result.json".into()],
    };
    let both = [allow.clone(), deny];
    assert!(allows(
        &both,
        "s3:DeleteObject",
        "arn:aws:s3:::b/p/error.json"
    ));
    assert!(!allows(
        &both,
        "s3:DeleteObject",
        "arn:aws:s3:::b/p/result.json"
    ));
    assert!(allows(
        &both,
        "s3:PutObject",
        "arn:aws:s3:::b/p/result.json"
    ));
    assert!(!allows(&[], "s3:GetObject", "arn:aws:s3:::b/k"));
    assert!(!allows(&[allow], "s3:ListBucket", "arn:aws:s3:::c"));
}

#[test]
fn the_template_evaluates_with_its_intrinsic_functions() {
    let named = Stack::new(template(), &[("BucketName", "my-rounds")]);
    assert_eq!(named.bucket(), "my-rounds");
    assert!(named.condition("HasBucketName"));
    // Unnamed: the name from the account and the stack id (Join, Select, Split).
    let unnamed = Stack::new(template(), &[]);
    assert!(!unnamed.condition("HasBucketName"));
    assert_eq!(unnamed.bucket(), "summa-rounds-123456789012-0242ac120002");
    assert_eq!(
        named.eval(&json!({"Fn::Sub": "${RoundBucket.Arn}/*/x-${!Literal}-${AWS::Region}"})),
        Some(json!("arn:aws:s3:::my-rounds/*/x-${Literal}-us-east-1"))
    );
    assert_eq!(
        named.eval(&json!({"Fn::Sub": ["a/${B}/c", {"B": {"Ref": "BucketName"}}]})),
        Some(json!("a/my-rounds/c"))
    );
    assert_eq!(
        named.eval(&json!([1, {"Ref": "AWS::NoValue"}, 2])),
        Some(json!([1, 2]))
    );
    // Every S3 resource of the trigger's policy (which computes the bucket's
    // name) names the same bucket as the others'.
    for stack in [named, unnamed] {
        let arn = format!("arn:aws:s3:::{}/", stack.bucket());
        for s in stack.statements("TriggerFunction") {
            if s.actions.iter().any(|a| a.starts_with("s3:")) {
                assert!(s.resources.iter().all(|r| r.starts_with(&arn)), "{s:?}");
            }
        }
    }
}
