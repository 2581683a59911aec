import Yams

/// Walks a composed YAML tree and collects located errors instead of stopping at the first.
///
/// Every getter returns `nil` after recording a diagnostic when a value is missing or has the
/// wrong type, so the parser can keep going and report every problem in one run. Package-visible
/// so that `flockd`'s config file is read with the same rules and the same located errors.
package struct YAMLReader {
    package let file: String
    package private(set) var diagnostics: [PolicyDiagnostic] = []

    package init(file: String) {
        self.file = file
    }

    /// A mapping's entries by key, with the nodes kept for their positions.
    package struct Fields {
        package let mark: Mark?
        package let path: String
        package var entries: [String: (key: Node, value: Node)]
        package subscript(_ key: String) -> Node? { entries[key]?.value }
    }

    package mutating func error(at mark: Mark?, _ message: String, hint: String? = nil) {
        diagnostics.append(
            PolicyDiagnostic(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message, hint: hint)
        )
    }

    /// Reads `node` as a mapping whose keys must all be in `allowed`; unknown keys are errors
    /// with a suggestion, so a typo never passes silently.
    package mutating func fields(_ node: Node, path: String, allowed: [String]) -> Fields? {
        guard let mapping = node.mapping else {
            error(
                at: node.mark, "\(path) must be a mapping of \(allowed.joined(separator: ", ")); got \(describe(node))")
            return nil
        }
        var fields = Fields(mark: node.mark, path: path, entries: [:])
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                error(at: keyNode.mark, "keys of \(path) must be plain words")
                continue
            }
            guard allowed.contains(key) else {
                let hint =
                    suggestion(for: key, among: allowed).map { "did you mean '\($0)'?" }
                    ?? "allowed keys: \(allowed.joined(separator: ", "))"
                error(at: keyNode.mark, "unknown key '\(key)' in \(path)", hint: hint)
                continue
            }
            fields.entries[key] = (keyNode, value)
        }
        return fields
    }

    /// Records an error for each of `keys` that `fields` lacks.
    package mutating func require(_ keys: [String], in fields: Fields) {
        for key in keys where fields[key] == nil {
            error(at: fields.mark, "\(fields.path) is missing '\(key)'")
        }
    }

    package mutating func string(_ fields: Fields, _ key: String) -> String? {
        guard let node = fields[key] else { return nil }
        guard let scalar = node.scalar, node.kind != .null else {
            error(at: node.mark, "\(fields.path).\(key) must be a string; got \(describe(node))")
            return nil
        }
        return scalar.string
    }

    package mutating func int(_ fields: Fields, _ key: String) -> Int? {
        guard let node = fields[key] else { return nil }
        guard node.scalar != nil, node.kind == .int, let value = node.int else {
            error(at: node.mark, "\(fields.path).\(key) must be a whole number; got \(describe(node))")
            return nil
        }
        return value
    }

    package mutating func number(_ fields: Fields, _ key: String) -> Double? {
        guard let node = fields[key] else { return nil }
        guard node.scalar != nil, node.kind == .int || node.kind == .float, let value = node.float,
            value.isFinite
        else {
            error(at: node.mark, "\(fields.path).\(key) must be a number; got \(describe(node))")
            return nil
        }
        return value
    }

    package mutating func bool(_ fields: Fields, _ key: String) -> Bool? {
        guard let node = fields[key] else { return nil }
        guard node.kind == .bool, let value = node.bool else {
            error(at: node.mark, "\(fields.path).\(key) must be true or false; got \(describe(node))")
            return nil
        }
        return value
    }

    /// A positive duration such as `500ms`, `2s`, `1m` or `1h`.
    package mutating func duration(_ fields: Fields, _ key: String) -> Duration? {
        guard let node = fields[key] else { return nil }
        let text = node.scalar?.string ?? ""
        if text.hasPrefix("-") {
            error(at: node.mark, "\(fields.path).\(key) must be longer than zero; got '\(text)'")
            return nil
        }
        guard node.kind == .str || node.kind == .int, let value = Duration(flockText: text) else {
            let hint =
                node.kind == .int
                ? "add a unit, e.g. '\(text)s'" : "write a whole number and a unit: 500ms, 2s, 1m or 1h"
            error(at: node.mark, "\(fields.path).\(key) must be a duration; got \(describe(node))", hint: hint)
            return nil
        }
        guard value > .zero else {
            error(at: node.mark, "\(fields.path).\(key) must be longer than zero")
            return nil
        }
        return value
    }

    /// One of a closed set of words, such as an aggregate or a clone mode.
    package mutating func choice<T: RawRepresentable & CaseIterable>(_ fields: Fields, _ key: String, as: T.Type) -> T?
    where T.RawValue == String {
        guard let node = fields[key] else { return nil }
        let options = T.allCases.map(\.rawValue)
        guard let text = node.scalar?.string, let value = T(rawValue: text) else {
            let text = node.scalar?.string ?? ""
            let hint =
                suggestion(for: text, among: options).map { "did you mean '\($0)'?" }
                ?? "one of: \(options.joined(separator: ", "))"
            error(at: node.mark, "\(fields.path).\(key): unknown value \(describe(node))", hint: hint)
            return nil
        }
        return value
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): node.kind == .null ? "nothing" : "'\(scalar.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

/// The closest allowed word to a typo, if one is close enough to be a plausible intent.
package func suggestion(for word: String, among options: [String]) -> String? {
    let scored = options.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
    guard let (best, distance) = scored, distance <= max(2, word.count / 3) else { return nil }
    return best
}

/// Levenshtein distance, used only to suggest corrections for short keys.
private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let current = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = current
        }
    }
    return a.isEmpty ? b.count : row[b.count]
}

extension Node {
    /// The resolved YAML type of a node (`tag:yaml.org,2002:int`, …), for type checks.
    fileprivate var kind: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
