//! The registry's markdown tables read as rows: every patch table, found by its header (an
//! area, a status and a link column, whatever the heading above it says), its cells split on
//! unescaped pipes and trimmed, a row with the wrong number of cells kept and marked.

/// One row of a patch table, cells trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line number in the markdown file.
    pub line: usize,
    pub area: String,
    pub status: String,
    pub author: String,
    pub git: String,
    pub lore: String,
    pub base: String,
    /// Set when the row did not have the table's number of cells.
    pub shape_problem: Option<String>,
}

/// Columns of a patch table, found by their header names.
#[derive(Debug, Default)]
struct Columns {
    area: Option<usize>,
    status: Option<usize>,
    author: Option<usize>,
    git: Option<usize>,
    lore: Option<usize>,
    base: Option<usize>,
    count: usize,
}

fn split_cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    // A `\|` inside a cell is an escaped pipe, not a separator.
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

fn header_columns(cells: &[String]) -> Option<Columns> {
    let mut c = Columns {
        count: cells.len(),
        ..Default::default()
    };
    for (i, h) in cells.iter().enumerate() {
        let h = h.to_lowercase();
        if h.contains("area") || h == "name" || h.contains("project") {
            c.area.get_or_insert(i);
        } else if h.contains("status") || h == "state" {
            c.status.get_or_insert(i);
        } else if h.contains("author") || h.contains("owner") {
            c.author.get_or_insert(i);
        } else if h.contains("mail") || h.contains("lore") || h.contains("list") {
            c.lore.get_or_insert(i);
        } else if h.contains("git") || h.contains("link") || h.contains("repo") {
            c.git.get_or_insert(i);
        } else if h.contains("base") {
            c.base.get_or_insert(i);
        }
    }
    // A patch table names an area, a status, and at least one kind of link or a base.
    let is_patch_table =
        c.area.is_some() && c.status.is_some() && (c.git.is_some() || c.lore.is_some());
    is_patch_table.then_some(c)
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('|') && t.contains('-') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// Find every patch table (by its header, not by the heading above it) and return its rows.
pub fn parse_rows(markdown: &str) -> Vec<Row> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut rows = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let line = lines[i];
        if line.trim_start().starts_with('|') && is_separator(lines[i + 1]) {
            if let Some(cols) = header_columns(&split_cells(line)) {
                i += 2;
                while i < lines.len() && lines[i].trim_start().starts_with('|') {
                    let cells = split_cells(lines[i]);
                    let get = |c: Option<usize>| {
                        c.and_then(|c| cells.get(c)).cloned().unwrap_or_default()
                    };
                    let shape_problem = (cells.len() != cols.count).then(|| {
                        format!(
                            "row has {} cells, the table has {}",
                            cells.len(),
                            cols.count
                        )
                    });
                    let row = Row {
                        line: i + 1,
                        area: get(cols.area),
                        status: get(cols.status),
                        author: get(cols.author),
                        git: get(cols.git),
                        lore: get(cols.lore),
                        base: get(cols.base),
                        shape_problem,
                    };
                    // A row of empty cells is table decoration, not a patch.
                    if !cells.iter().all(|c| c.is_empty()) {
                        rows.push(row);
                    }
                    i += 1;
                }
                continue;
            }
        }
        i += 1;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A patch table by its header anywhere in the text, an escaped pipe kept in its cell, a
    /// short row marked, a row of empty cells left out; a table without links is no patch table.
    #[test]
    fn patch_tables_are_read_by_their_header() {
        let md = "intro\n\n| Status | Area | Git |\n|:--|--|--|\n| review | a \\| b | https://x/y |\n| merged | c |\n| | | |\n\n| Area | Status | Notes |\n|---|---|---|\n| d | review | n |\n";
        let rows = parse_rows(md);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            (rows[0].line, rows[0].area.as_str(), rows[0].status.as_str()),
            (5, "a | b", "review")
        );
        assert_eq!(rows[0].git, "https://x/y");
        assert_eq!(rows[0].shape_problem, None);
        assert_eq!(
            rows[1].shape_problem.as_deref(),
            Some("row has 2 cells, the table has 3")
        );
    }
}
