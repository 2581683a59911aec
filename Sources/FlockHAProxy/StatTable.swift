import Foundation

/// The answer to `show stat`: HAProxy's CSV statistics, one row per frontend, backend and server.
///
/// Columns are looked up by the names in the `# pxname,svname,…` header rather than by position,
/// because HAProxy appends columns between versions; a field HAProxy leaves empty (it does so for
/// columns that do not apply to a row's type) reads as `nil`, never as zero.
public struct StatTable: Sendable, Hashable {
    public var columns: [String]
    public var rows: [StatRow]

    /// Parses the CSV text. Throws `HAProxyError.malformed` for anything that is not `show stat` output.
    public init(parsing text: String, command: String = "show stat") throws(HAProxyError) {
        // Every line HAProxy writes ends with a newline; text that does not was cut short.
        guard text.isEmpty || text.hasSuffix("\n") else {
            throw .malformed(command, "the answer ends in the middle of a line (cut short?)")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let header = lines.first, header.hasPrefix("# ") else {
            throw .malformed(
                command, "expected a CSV header starting with '# ', got '\(HAProxyError.firstLine(of: text))'")
        }
        var columns = try Self.fields(of: header.dropFirst(2), line: 1, command: command)
        if columns.last == "" { columns.removeLast() }  // HAProxy ends every line with a comma
        guard columns.first == "pxname", columns.count > 1, columns[1] == "svname" else {
            throw .malformed(command, "the CSV header does not start with pxname,svname")
        }
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() where index[name] == nil { index[name] = position }

        var rows: [StatRow] = []
        for (offset, line) in lines.dropFirst().enumerated() {
            if line.isEmpty { continue }
            let number = offset + 2
            var fields = try Self.fields(of: line, line: number, command: command)
            if fields.count == columns.count + 1, fields.last == "" { fields.removeLast() }
            guard fields.count == columns.count else {
                throw .malformed(command, "line \(number) has \(fields.count) fields, the header has \(columns.count)")
            }
            guard !fields[0].isEmpty, !fields[1].isEmpty else {
                throw .malformed(command, "line \(number) has no proxy or server name")
            }
            rows.append(StatRow(fields: fields, index: index))
        }
        self.columns = columns
        self.rows = rows
    }

    /// The `BACKEND` row of `backend`.
    public func backend(_ backend: String) -> StatRow? {
        rows.first { $0.proxy == backend && $0.server == "BACKEND" }
    }

    /// The server rows of `backend` (not its FRONTEND or BACKEND aggregate rows).
    public func servers(of backend: String) -> [StatRow] {
        rows.filter { $0.proxy == backend && $0.server != "BACKEND" && $0.server != "FRONTEND" }
    }

    /// The row of one server.
    public func server(_ name: String, of backend: String) -> StatRow? {
        rows.first { $0.proxy == backend && $0.server == name }
    }

    /// Splits one CSV line; HAProxy quotes fields that hold commas or quotes, doubling inner quotes.
    static func fields(of line: Substring, line number: Int, command: String) throws(HAProxyError) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = line.makeIterator()
        var atFieldStart = true
        while let character = iterator.next() {
            if quoted {
                if character == "\"" {
                    // Look ahead: a doubled quote is a literal quote; anything else ends the quoting.
                    if let next = iterator.next() {
                        if next == "\"" {
                            current.append("\"")
                        } else if next == "," {
                            quoted = false
                            fields.append(current)
                            current = ""
                            atFieldStart = true
                        } else {
                            throw .malformed(command, "line \(number): text after a closing quote")
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case ",":
                fields.append(current)
                current = ""
                atFieldStart = true
            case "\"" where atFieldStart:
                quoted = true
                atFieldStart = false
            default:
                current.append(character)
                atFieldStart = false
            }
        }
        guard !quoted else { throw .malformed(command, "line \(number): unterminated quote") }
        fields.append(current)
        return fields
    }
}

/// One line of `show stat`.
public struct StatRow: Sendable, Hashable {
    public var fields: [String]
    private var index: [String: Int]

    init(fields: [String], index: [String: Int]) {
        self.fields = fields
        self.index = index
    }

    /// The proxy (frontend or backend) name.
    public var proxy: String { fields[0] }
    /// The server name, or `FRONTEND` / `BACKEND` for aggregate rows.
    public var server: String { fields[1] }

    /// The raw text of a column; `nil` when the column does not exist or is empty.
    public subscript(column: String) -> String? {
        guard let position = index[column], position < fields.count else { return nil }
        let value = fields[position]
        return value.isEmpty ? nil : value
    }

    /// A numeric column; `nil` when absent, empty or not a number.
    public func number(_ column: String) -> Double? {
        guard let text = self[column], let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// An integer column; `nil` when absent, empty or not an integer.
    public func integer(_ column: String) -> Int? {
        self[column].flatMap { Int($0) }
    }

    /// The server's health and admin status as HAProxy words it: `UP`, `UP 1/3`, `DOWN`, `DRAIN`,
    /// `MAINT`, `MAINT (via …)`, `NOLB`, `no check`.
    public var status: String? { self["status"] }

    /// True for a server that takes new traffic: UP (even while a failing check counts down) or
    /// without a health check, and neither draining, in maintenance nor NOLB.
    public var isServing: Bool {
        guard let status else { return false }
        return status == "UP" || status.hasPrefix("UP ") || status == "no check"
    }
}
