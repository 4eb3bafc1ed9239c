//! The file-level import graph of a crate, read from its sources: which file's code names
//! which other file's items (`use crate::…`, `use super::…`, inline `crate::a::b` paths),
//! so a test can insist that no two files of a crate import each other, directly or round
//! a loop.
//!
//! It reads text, not the compiler's view: enough for this workspace's style (paths from
//! `crate`, `super` and `self`; re-exports with `pub use` in `lib.rs`/`mod.rs`), with test
//! modules (`#[cfg(test)]`) left out, since a test importing its parent is not a cycle of
//! the shipped code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A crate's files (relative to `src/`) and the files each one imports.
#[derive(Debug, Default)]
pub struct ModGraph {
    /// Module path (`a::b`, `` for the crate root) → file.
    pub files: BTreeMap<String, PathBuf>,
    /// File → the files it imports (never itself).
    pub edges: BTreeMap<PathBuf, BTreeSet<PathBuf>>,
}

/// Read every `.rs` file under `src` (the crate root is `lib.rs` or `main.rs`).
pub fn read_crate(src: &Path) -> std::io::Result<ModGraph> {
    let mut files = BTreeMap::new();
    collect(src, src, &mut files)?;
    let mut texts = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(src.join(file))?;
        texts.insert(module.clone(), strip_tests(&strip_comments(&text)));
    }
    // Re-exports: `pub use child::Item` in a module file lets `module::Item` name the child.
    let mut reexports: BTreeMap<String, String> = BTreeMap::new();
    for (module, text) in &texts {
        for (_, stmt) in use_statements(text, true) {
            for path in expand(&stmt) {
                let full = absolute(module, &path, &files);
                if let Some(full) = full
                    && let Some(name) = path.rsplit("::").next()
                {
                    let key = join(module, name);
                    reexports.insert(key, full);
                }
            }
        }
    }
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (module, text) in &texts {
        let from = files[module].clone();
        let inline = inline_modules(text);
        let mut paths: Vec<String> = use_statements(text, false)
            .into_iter()
            .flat_map(|(pos, s)| {
                expand(&s)
                    .into_iter()
                    .map(|p| outside_inline(p, pos, &inline))
                    .collect::<Vec<_>>()
            })
            .collect();
        paths.extend(
            inline_paths(text)
                .into_iter()
                .map(|(pos, p)| outside_inline(p, pos, &inline)),
        );
        paths.extend(child_paths(module, text, &files));
        for p in paths {
            let Some(full) = absolute(module, &p, &files) else {
                continue;
            };
            let full = reexports.get(&full).cloned().unwrap_or(full);
            if let Some(to) = owning_file(&full, &files)
                && to != from
            {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
        edges.entry(from).or_default();
    }
    Ok(ModGraph { files, edges })
}

impl ModGraph {
    /// Every cycle's files, one list per strongly connected component of two or more files.
    pub fn cycles(&self) -> Vec<Vec<PathBuf>> {
        // Tarjan's algorithm over the file graph.
        struct St<'a> {
            g: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
            index: BTreeMap<&'a PathBuf, usize>,
            low: BTreeMap<&'a PathBuf, usize>,
            stack: Vec<&'a PathBuf>,
            on: BTreeSet<&'a PathBuf>,
            next: usize,
            out: Vec<Vec<PathBuf>>,
        }
        fn visit<'a>(st: &mut St<'a>, v: &'a PathBuf) {
            st.index.insert(v, st.next);
            st.low.insert(v, st.next);
            st.next += 1;
            st.stack.push(v);
            st.on.insert(v);
            let g = st.g;
            for w in g.get(v).into_iter().flatten() {
                if !st.index.contains_key(w) {
                    visit(st, w);
                    let lw = st.low[w];
                    let lv = st.low[v];
                    st.low.insert(v, lv.min(lw));
                } else if st.on.contains(w) {
                    let iw = st.index[w];
                    let lv = st.low[v];
                    st.low.insert(v, lv.min(iw));
                }
            }
            if st.low[v] == st.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = st.stack.pop() {
                    st.on.remove(w);
                    comp.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    st.out.push(comp);
                }
            }
        }
        let mut st = St {
            g: &self.edges,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on: BTreeSet::new(),
            next: 0,
            out: Vec::new(),
        };
        for v in self.edges.keys() {
            if !st.index.contains_key(v) {
                visit(&mut st, v);
            }
        }
        st.out
    }
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
        if p.is_dir() {
            if rel.starts_with("bin") {
                continue; // separate binaries: crates of their own
            }
            collect(root, &p, out)?;
        } else if p.extension().is_some_and(|x| x == "rs") {
            let parts: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            let module = match parts.as_slice() {
                [one] if one == "lib" || one == "main" => String::new(),
                [.., last] if last == "mod" => parts[..parts.len() - 1].join("::"),
                _ => parts.join("::"),
            };
            if out.contains_key(&module) && module.is_empty() {
                continue; // lib.rs wins over main.rs as the root
            }
            out.insert(module, rel);
        }
    }
    Ok(())
}

/// The code with comments, string and character literals blanked out (so a `use` or a
/// brace inside a string or a doc comment is not read as code).
fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'r'
            && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            // Raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == b'"'
                    && b[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == b'#')
                        .count()
                        == hashes
                {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let close = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&x| x == b'\'')
                    .map(|p| i + 2 + p)
            } else {
                let ch_len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(i + 1 + ch_len)
            };
            match close {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Drop `#[cfg(test)]` items (a `mod tests { … }` block to its closing brace).
fn strip_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        // Skip to the end of the item: a `;` before any `{`, or the matching brace.
        let semi = after.find(';');
        let brace = after.find('{');
        match (semi, brace) {
            (Some(s), Some(b)) if s < b => rest = &after[s + 1..],
            (_, Some(b)) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (j, c) in after[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + j + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &after[end..];
            }
            (Some(s), None) => rest = &after[s + 1..],
            (None, None) => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// `use` statements (the text between `use` and `;`), public ones only when `public`.
fn use_statements(text: &str, public: bool) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = find_word(&text[from..], "use") {
        let at = from + i;
        let before = text[..at].trim_end();
        let is_pub = before.ends_with("pub") || before.ends_with(')');
        let after = &text[at + 3..];
        let Some(end) = after.find(';') else { break };
        if !public || is_pub {
            out.push((
                at,
                after[..end]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        }
        from = at + 3 + end;
    }
    out
}

/// The byte ranges of inline module bodies (`mod name { … }`), where `super` first climbs
/// out of the inline module, staying in the same file.
fn inline_modules(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = find_word(&text[from..], "mod") {
        let at = from + i;
        let after = &text[at + 3..];
        let semi = after.find(';');
        let brace = after.find('{');
        if let Some(b) = brace
            && semi.is_none_or(|s| b < s)
        {
            let open = at + 3 + b;
            let mut depth = 0usize;
            for (j, c) in text[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            out.push((open, open + j));
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        from = at + 3;
    }
    out
}

/// A path written at `pos`, with the `super`s that only leave inline modules turned into
/// `self`.
fn outside_inline(path: String, pos: usize, inline: &[(usize, usize)]) -> String {
    let depth = inline.iter().filter(|(a, b)| *a < pos && pos < *b).count();
    if depth == 0 || !(path.starts_with("super::") || path == "super") {
        return path;
    }
    let padded = format!("{path}::");
    let mut rest = padded.as_str();
    let mut left = depth;
    while left > 0
        && let Some(r) = rest.strip_prefix("super::")
    {
        rest = r;
        left -= 1;
    }
    let rest = rest.trim_end_matches("::");
    if rest.starts_with("super") {
        rest.to_string()
    } else if rest.is_empty() {
        "self".to_string()
    } else {
        format!("self::{rest}")
    }
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(word) {
        let at = from + i;
        let ok_before = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
        let end = at + word.len();
        let ok_after = end < b.len() && b[end].is_ascii_whitespace();
        if ok_before && ok_after {
            return Some(at);
        }
        from = end;
    }
    None
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e` (aliases and globs dropped).
fn expand(stmt: &str) -> Vec<String> {
    fn go(prefix: &str, s: &str, out: &mut Vec<String>) {
        if let Some(open) = s.find('{') {
            let head = &s[..open];
            let close = s.rfind('}').filter(|&c| c > open).unwrap_or(s.len());
            let inner = &s[open + 1..close];
            let mut depth = 0;
            let mut start = 0;
            let mut parts = Vec::new();
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(&inner[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            parts.push(&inner[start..]);
            for p in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
                go(&format!("{prefix}{}", head.trim()), p, out);
            }
        } else {
            let s = s.split(" as ").next().unwrap_or(s).trim();
            let full = format!("{prefix}{s}");
            let full = full.trim_end_matches("::*").trim_end_matches("::self");
            out.push(full.to_string());
        }
    }
    let mut out = Vec::new();
    go("", stmt.trim(), &mut out);
    out
}

/// `crate::a::b` and `super::x` paths written inline in code.
fn inline_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(start) {
            let at = from + i;
            let ok_before = at == 0
                || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_' || b[at - 1] == b':');
            let tail = &text[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            // `crate::{…}` is a grouped `use`, read whole by `use_statements`.
            let grouped = tail[end..].starts_with('{');
            if ok_before && !grouped {
                out.push((at, tail[..end].trim_end_matches(':').to_string()));
            }
            from = at + end.max(1);
        }
    }
    out
}

/// `child::Item` paths written inline in a parent module's code.
fn child_paths(module: &str, text: &str, files: &BTreeMap<String, PathBuf>) -> Vec<String> {
    let prefix = if module.is_empty() {
        String::new()
    } else {
        format!("{module}::")
    };
    let children: Vec<&str> = files
        .keys()
        .filter_map(|m| m.strip_prefix(prefix.as_str()))
        .filter(|rest| !rest.is_empty() && !rest.contains("::"))
        .collect();
    let mut out = Vec::new();
    for child in children {
        let pat = format!("{child}::");
        let mut from = 0;
        while let Some(i) = text[from..].find(&pat) {
            let at = from + i;
            let b = text.as_bytes();
            let ok = at == 0
                || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_' || b[at - 1] == b':');
            if ok {
                out.push(format!("self::{child}"));
            }
            from = at + pat.len();
        }
    }
    out
}

fn join(module: &str, name: &str) -> String {
    if module.is_empty() {
        name.to_string()
    } else {
        format!("{module}::{name}")
    }
}

/// The absolute module path (`a::b::Item`) a path written in `module` names, or `None`
/// for paths outside the crate.
fn absolute(module: &str, path: &str, files: &BTreeMap<String, PathBuf>) -> Option<String> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<&str> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").collect()
    };
    match segs.first().copied() {
        Some("crate") => {
            base.clear();
            segs.remove(0);
        }
        Some("super") => {
            while segs.first() == Some(&"super") {
                segs.remove(0);
                base.pop();
            }
        }
        Some("self") => {
            segs.remove(0);
        }
        Some(first) => {
            // A relative path into a child module (`use child::Item` in a parent).
            let child = join(module, first);
            if !files.contains_key(&child) {
                return None;
            }
        }
        None => return None,
    }
    base.extend(segs);
    Some(base.join("::"))
}

/// The file that defines the longest module prefix of `path`.
fn owning_file(path: &str, files: &BTreeMap<String, PathBuf>) -> Option<PathBuf> {
    let segs: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split("::").collect()
    };
    for n in (0..=segs.len()).rev() {
        if let Some(f) = files.get(&segs[..n].join("::")) {
            return Some(f.clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn finds_a_cycle_through_a_parent_error_type() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "lib.rs",
            "pub mod a;\npub mod b;\npub use a::Thing;\npub struct Error;\nfn f(_: b::B) {}\n",
        );
        write(d.path(), "a.rs", "pub struct Thing;\n");
        write(
            d.path(),
            "b.rs",
            "use crate::Error;\npub struct B(Error);\n#[cfg(test)]\nmod tests { use crate::a::Thing; }\n",
        );
        let g = read_crate(d.path()).unwrap();
        assert_eq!(
            g.cycles(),
            vec![vec![PathBuf::from("b.rs"), PathBuf::from("lib.rs")]]
        );
    }

    #[test]
    fn reexports_and_grouped_uses_resolve_to_the_defining_file() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub use a::Thing;\n",
        );
        write(
            d.path(),
            "a.rs",
            "use crate::{b::{B, C as D}};\npub struct Thing;\n",
        );
        write(
            d.path(),
            "b.rs",
            "pub struct B; pub struct C;\nfn f(_: crate::Thing) {}\n",
        );
        write(
            d.path(),
            "c.rs",
            "use crate::{a, b::B};\nfn g(_: a::Thing, _: B) {}\n",
        );
        let g = read_crate(d.path()).unwrap();
        let a = &g.edges[&PathBuf::from("a.rs")];
        assert!(a.contains(&PathBuf::from("b.rs")), "{a:?}");
        // A grouped `use crate::{…}` names its items' files, not the crate root.
        let c = &g.edges[&PathBuf::from("c.rs")];
        assert!(!c.contains(&PathBuf::from("lib.rs")), "{c:?}");
        // b names crate::Thing, which lib.rs re-exports from a: a cycle a <-> b.
        assert_eq!(g.cycles().len(), 1);
    }

    #[test]
    fn super_inside_an_inline_module_stays_in_the_file() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "lib.rs", "pub mod units;\nuse units::parse;\n");
        write(
            d.path(),
            "units.rs",
            "pub fn parse() {}\npub mod serde_x {\n    use super::parse;\n    pub mod option {\n        use super::*;\n    }\n}\n// use crate::nothing;\nconst S: &str = \"use crate::x; {\";\n",
        );
        let g = read_crate(d.path()).unwrap();
        assert!(
            g.edges[&PathBuf::from("units.rs")].is_empty(),
            "{:?}",
            g.edges
        );
        assert!(g.cycles().is_empty());
    }

    #[test]
    fn acyclic_tree_has_no_cycles() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "lib.rs",
            "pub mod error;\npub mod x;\npub use error::Error;\n",
        );
        write(d.path(), "error.rs", "pub struct Error;\n");
        write(d.path(), "x/mod.rs", "pub mod y;\nuse crate::Error;\n");
        write(d.path(), "x/y.rs", "use super::super::error::Error;\n");
        let g = read_crate(d.path()).unwrap();
        assert!(g.cycles().is_empty(), "{:?}", g.cycles());
    }
}
