/// A line diff: `- ` removed, `+ ` added, `  ` kept; unchanged runs longer than eight lines are
/// folded to three lines of context on each side, so that the change stands out.
func lineDiff(from old: String, to new: String) -> String {
    // Any line break splits, CRLF included ("\r\n" is a single Character).
    let a = old.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init).dropLastIfEmpty()
    let b = new.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init).dropLastIfEmpty()
    let changes = b.difference(from: a)
    var removed = Set<Int>(), inserted = Set<Int>()
    for change in changes {
        switch change {
        case .remove(let offset, _, _): removed.insert(offset)
        case .insert(let offset, _, _): inserted.insert(offset)
        }
    }
    var lines: [(mark: Character, text: String)] = []
    var i = 0, j = 0
    while i < a.count || j < b.count {
        if i < a.count, removed.contains(i) {
            lines.append(("-", a[i])); i += 1
        } else if j < b.count, inserted.contains(j) {
            lines.append(("+", b[j])); j += 1
        } else {
            lines.append((" ", b[j])); i += 1; j += 1
        }
    }
    var output = ""
    var run: [String] = []
    func flush() {
        if run.count > 8 {
            for line in run.prefix(3) { output += "  \(line)\n" }
            output += "  … \(run.count - 6) unchanged lines\n"
            for line in run.suffix(3) { output += "  \(line)\n" }
        } else {
            for line in run { output += "  \(line)\n" }
        }
        run = []
    }
    for line in lines {
        if line.mark == " " {
            run.append(line.text)
        } else {
            flush()
            output += "\(line.mark) \(line.text)\n"
        }
    }
    flush()
    return output
}

extension Array where Element == String {
    /// Text ending in a newline splits into a last empty line that is not a line.
    fileprivate func dropLastIfEmpty() -> [String] { last == "" ? Array(dropLast()) : self }
}
