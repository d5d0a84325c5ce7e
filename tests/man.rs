//! The manual pages of `man/`: each renders with man-db and groff without a
//! single warning, and together they name everything the code accepts —
//! every configuration key the parser knows (in vigild.conf.5), every
//! control verb (in vigilctl.8) and every option the programs take — read
//! from the sources, so that a key, verb or option added without its
//! documentation fails here.
//!
//! The tests need `man` (man-db) and `groff` (groff-base); without them
//! they fail and say so (`.ci/run` installs both).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pages the project ships, and the program each documents.
const PAGES: [&str; 4] = ["vigild.8", "vigilctl.8", "vigil-log.8", "vigild.conf.5"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn page(name: &str) -> PathBuf {
    root().join("man").join(name)
}

fn source(path: &str) -> String {
    let path = root().join(path);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fail with the way out when a tool is missing (a test that could not
/// run must not pass).
fn require(tool: &str) {
    let found = Command::new(tool).arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "{tool} is needed to check the manual pages: apt-get install -y man-db groff-base (.ci/run does)"
    );
}

/// Run `cmd`; its standard output, after checking that it succeeded and
/// wrote nothing on standard error (where man and groff put warnings).
fn quiet_output(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{what}: {}\n{stderr}",
        out.status
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{what}: output not UTF-8: {e}"))
}

/// `man -l PAGE` as a reader sees it, 80 columns, in `locale`, plain text.
fn man(name: &str, locale: &str, extra: &[&str]) -> String {
    let mut cmd = Command::new("man");
    cmd.args(["--warnings", "-l"])
        .args(extra)
        .arg(page(name))
        .env("MANWIDTH", "80")
        .env("LC_ALL", locale)
        .env("MANPAGER", "cat")
        .env_remove("MAN_KEEP_FORMATTING")
        .env_remove("MANOPT")
        .env_remove("MANROFFOPT");
    quiet_output(cmd, &format!("man -l man/{name} ({locale})"))
}

/// The page as plain text without hyphenation or justification, for
/// looking words up in it.
fn text(name: &str) -> String {
    require("man");
    man(name, "C", &["--no-hyphenation", "--no-justification"])
}

#[test]
fn every_page_renders_without_a_warning() {
    require("man");
    require("groff");
    require("lexgrog");
    let mut found: Vec<String> = fs::read_dir(root().join("man"))
        .expect("man/")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    found.sort();
    let mut expected: Vec<String> = PAGES.iter().map(|p| p.to_string()).collect();
    expected.sort();
    assert_eq!(found, expected, "man/ holds exactly the shipped pages");
    for name in PAGES {
        for locale in ["C", "C.UTF-8"] {
            let shown = man(name, locale, &[]);
            for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"] {
                assert!(
                    shown.lines().any(|l| l == heading),
                    "man/{name} ({locale}): no {heading} section in:\n{shown}"
                );
            }
            assert!(shown.len() > 2000, "man/{name}: too short:\n{shown}");
        }
        let mut groff = Command::new("groff");
        groff.args(["-man", "-ww", "-z"]).arg(page(name));
        quiet_output(groff, &format!("groff -man -ww -z man/{name}"));
        // whatis and apropos read the NAME line: it must parse.
        let mut lexgrog = Command::new("lexgrog");
        lexgrog.arg(page(name));
        let whatis = quiet_output(lexgrog, &format!("lexgrog man/{name}"));
        assert!(whatis.contains(" - "), "man/{name}: NAME line: {whatis}");
    }
}

#[test]
fn pages_point_only_at_each_other() {
    for name in PAGES {
        let text = source(&format!("man/{name}"));
        assert!(
            !text.contains("SPEC"),
            "man/{name} names a file outside the repository"
        );
        // `.BR vigilctl (8),` and the like: a reference to one of ours
        // must be a page of man/.
        for line in text.lines().filter(|l| l.starts_with(".BR vigil")) {
            let mut words = line.split_whitespace().skip(1);
            let (Some(target), Some(section)) = (words.next(), words.next()) else {
                continue;
            };
            // Only references: `NAME (N)`.
            let Some(section) = section.strip_prefix('(').and_then(|s| s.get(..1)) else {
                continue;
            };
            let file = format!("{}.{section}", target.replace("\\-", "-"));
            assert!(
                PAGES.contains(&file.as_str()),
                "man/{name}: {line}: no man/{file}"
            );
        }
    }
}

/// The words of the string constant `name` in `text` (`const NAME: &str =
/// "..."` or `concat!("...", "...")`, up to its `;`).
fn const_words(text: &str, file: &str, name: &str) -> Vec<String> {
    let start = text
        .find(&format!("const {name}: &str"))
        .unwrap_or_else(|| panic!("{file}: no const {name}: &str"));
    let body = &text[start..];
    let body = &body[..body.find(';').expect("the constant's ;")];
    // The string literals' contents: every other piece between quotes.
    body.split('"')
        .skip(1)
        .step_by(2)
        .flat_map(str::split_whitespace)
        .map(str::to_owned)
        .collect()
}

/// Every configuration key `engine/src/config/parse.rs` accepts is
/// described in vigild.conf.5 as `KEY = ...`.
#[test]
fn vigild_conf_names_every_key_the_parser_accepts() {
    let file = "engine/src/config/parse.rs";
    let parser = source(file);
    let service = const_words(&parser, file, "SERVICE_KEYS");
    let global = const_words(&parser, file, "GLOBAL_KEYS");
    // Guards against an extraction that finds nothing and checks nothing.
    assert!(
        service.len() >= 30,
        "{file}: SERVICE_KEYS read as {service:?}"
    );
    assert!(global.len() >= 5, "{file}: GLOBAL_KEYS read as {global:?}");
    assert!(service.iter().any(|k| k == "exec") && global.iter().any(|k| k == "run_dir"));
    let page = text("vigild.conf.5");
    // A definition line: `KEY = VALUE`, or several joined by `, `.
    let defined = |key: &str| {
        page.lines().any(|line| {
            line.trim()
                .split(", ")
                .any(|part| part.starts_with(&format!("{key} = ")))
        })
    };
    let missing: Vec<&String> = service
        .iter()
        .chain(&global)
        .filter(|k| !defined(k))
        .collect();
    assert!(
        missing.is_empty(),
        "vigild.conf.5 does not describe {missing:?}"
    );
}

/// The variants of `enum NAME` in `text`, lower-cased (`Poweroff` →
/// `poweroff`).
fn enum_variants(text: &str, file: &str, name: &str) -> Vec<String> {
    let start = text
        .find(&format!("enum {name} {{"))
        .unwrap_or_else(|| panic!("{file}: no enum {name}"));
    let body = &text[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').expect("the enum's }")];
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with('#') && !l.is_empty())
        .map(|l| l.trim_end_matches(',').to_ascii_lowercase())
        .collect()
}

/// `word` stands on its own in `text` (not inside a longer word).
fn has_word(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// Every verb of the control FIFO (`engine/src/control.rs`'s `Verb`) is a
/// vigilctl command in vigilctl.8 and a control line in vigild.8.
#[test]
fn vigilctl_and_vigild_pages_name_every_control_verb() {
    let file = "engine/src/control.rs";
    let src = source(file);
    // The words of `VERBS`, the verbs as they are spelled.
    let verbs: Vec<String> = src
        .split_once("const VERBS: &str =")
        .and_then(|(_, rest)| rest.split('"').nth(1))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let variants = enum_variants(&src, file, "Verb");
    assert!(verbs.len() >= 10, "{file}: VERBS read as {verbs:?}");
    assert_eq!(verbs.len(), variants.len(), "{file}: VERBS and Verb differ");
    for name in ["vigilctl.8", "vigild.8"] {
        let page = text(name);
        let missing: Vec<&String> = verbs.iter().filter(|v| !has_word(&page, v)).collect();
        assert!(
            missing.is_empty(),
            "{name} does not name the verbs {missing:?}"
        );
    }
}

/// The options a program's source matches (`b"-f"`, `b"--raw"`, or a
/// word of a `word_index("-h --help", ...)` list): the byte string literals
/// and listed words that begin with `-` and a letter.
fn options_in(path: &str) -> Vec<String> {
    let text = source(path);
    let literals = text
        .split("b\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next());
    let listed = text
        .split("word_index(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .flat_map(|list| list.split(' '));
    let mut found: Vec<String> = literals
        .chain(listed)
        .filter(|lit| {
            let name = lit.trim_start_matches('-');
            lit.starts_with('-')
                && lit.len() - name.len() <= 2
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Every option each program's source knows appears in its page.
#[test]
fn each_page_names_every_option_of_its_program() {
    let programs = [
        ("vigild.8", "src/supervise/startup.rs", 7),
        ("vigilctl.8", "src/vigilctl/mod.rs", 5),
        ("vigilctl.8", "src/vigilctl/show.rs", 2),
        ("vigil-log.8", "engine/src/log_rules.rs", 3),
        ("vigil-log.8", "src/vigil_log.rs", 0),
    ];
    for (name, file, at_least) in programs {
        let options = options_in(file);
        assert!(
            options.len() >= at_least,
            "{file}: options read as {options:?}"
        );
        let page = text(name);
        let missing: Vec<&String> = options.iter().filter(|o| !has_word(&page, o)).collect();
        assert!(
            missing.is_empty(),
            "{name} does not describe {missing:?} of {file}"
        );
    }
}
