import Foundation

/// The metric names a PromQL expression selects, and the names a Prometheus text page exposes:
/// what the stray-name check compares.
enum PromQLNames {
    /// PromQL's keywords and binary operators that look like names.
    static let keywords: Set<String> = [
        "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right",
        "inf", "nan", "Inf", "NaN",
    ]

    /// Every bare identifier in `expression` that is not a function, an aggregation, a keyword,
    /// a label name or part of a string or duration. Drops, in order: string literals, label
    /// matchers `{...}`, ranges `[...]` and grouping label lists `by (...)`, `on (...)`, ...
    static func selected(in expression: String) -> Set<String> {
        var text = expression
        for pattern in [
            #""(?:[^"\\]|\\.)*""#, #"'(?:[^'\\]|\\.)*'"#, #"\{[^}]*\}"#, #"\[[^\]]*\]"#,
            #"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"#,
        ] {
            text = text.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        let identifier = try! NSRegularExpression(pattern: #"(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*"#)
        var names: Set<String> = []
        let range = NSRange(text.startIndex..., in: text)
        for match in identifier.matches(in: text, range: range) {
            let name = String(text[Range(match.range, in: text)!])
            let rest = text[Range(match.range, in: text)!.upperBound...].drop { $0 == " " || $0 == "\n" }
            guard !keywords.contains(name), rest.first != "(" else { continue }
            names.insert(name)
        }
        return names
    }

    /// The sample names of a text exposition page (`name{labels} value` lines), so a histogram
    /// gives its `_bucket`, `_sum` and `_count`.
    static func exposed(in page: String) -> Set<String> {
        var names: Set<String> = []
        for line in page.split(separator: "\n") where !line.hasPrefix("#") {
            if let name = line.split(whereSeparator: { $0 == "{" || $0 == " " }).first { names.insert(String(name)) }
        }
        return names
    }
}
