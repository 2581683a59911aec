/// One problem in a policy file, located the way compilers and editors expect.
public struct PolicyDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int
    public var message: String
    /// How to fix it, when there is something better to say than the message.
    public var hint: String?

    public init(file: String, line: Int, column: Int, message: String, hint: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.hint = hint
    }

    /// `file:line:column: error: message (hint: …)`, one line, so that editors can jump to it.
    public var description: String {
        "\(file):\(line):\(column): error: \(message)" + (hint.map { " (hint: \($0))" } ?? "")
    }
}

/// Every problem found in one or more policy files. Validation collects them all before
/// failing, so an operator fixes a file in one pass.
public struct PolicyErrors: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [PolicyDiagnostic]

    public init(_ diagnostics: [PolicyDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
