//! Enums chosen by name (on a command line, in configuration): one table of names
//! per enum, read both ways here.

/// The name of `value` in `all` (the first entry's name when it is missing).
pub(crate) fn name_of<T: Copy + PartialEq>(all: &[(&'static str, T)], value: T) -> &'static str {
    all.iter()
        .find(|(_, v)| *v == value)
        .or(all.first())
        .map_or("", |(name, _)| name)
}

/// The value named `text` in `all`; the error lists the names, calling them `what`.
pub(crate) fn parse_name<T: Copy>(
    all: &[(&'static str, T)],
    text: &str,
    what: &str,
) -> Result<T, String> {
    all.iter()
        .find(|(name, _)| *name == text.trim())
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(name, _)| *name).collect();
            format!(
                "unknown {what} {:?}; one of {}",
                crate::text::sanitize(text, 40),
                names.join(", ")
            )
        })
}
