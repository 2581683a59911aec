import FlockPolicy

/// Why flockd cannot start, worded for the operator reading the terminal or the journal.
///
/// Config problems carry every located diagnostic at once (`file:line:column: error: …`), the
/// same format as policy errors, so that one run shows everything to fix. The code is private
/// so new cases never break callers.
public struct DaemonError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case invalidConfig, unreadableConfig, environment, startup
    }

    private let code: Code
    public let message: String
    /// Located problems, for config errors; empty otherwise.
    public let diagnostics: [PolicyDiagnostic]
    /// Where the error was made, for bug reports; not shown to operators.
    public let file: String
    public let line: Int

    private init(_ code: Code, _ message: String, diagnostics: [PolicyDiagnostic] = [], file: String, line: Int) {
        self.code = code
        self.message = message
        self.diagnostics = diagnostics
        self.file = file
        self.line = line
    }

    /// One line per problem, ready to print.
    public var description: String {
        diagnostics.isEmpty ? "error: \(message)" : diagnostics.map(\.description).joined(separator: "\n")
    }

    /// The config file has errors; each is located.
    public static func invalidConfig(
        _ diagnostics: [PolicyDiagnostic], file: String = #fileID, line: Int = #line
    ) -> DaemonError {
        let sorted = diagnostics.sorted { ($0.file, $0.line, $0.column) < ($1.file, $1.line, $1.column) }
        return DaemonError(
            .invalidConfig, "\(diagnostics.count) error(s) in the config", diagnostics: sorted, file: file, line: line)
    }

    /// The config file cannot be read at all.
    public static func unreadableConfig(
        _ path: String, _ problem: String, file: String = #fileID, line: Int = #line
    ) -> DaemonError {
        DaemonError(
            .unreadableConfig, "\(path): \(problem)",
            diagnostics: [PolicyDiagnostic(file: path, line: 1, column: 1, message: problem)], file: file, line: line)
    }

    /// An environment variable that overrides the config has a bad value.
    public static func environment(
        _ variable: String, _ problem: String, file: String = #fileID, line: Int = #line
    ) -> DaemonError {
        DaemonError(.environment, "$\(variable): \(problem)", file: file, line: line)
    }

    /// Start-up failed after the config was valid: the store, a balancer, a hypervisor.
    public static func startup(_ message: String, file: String = #fileID, line: Int = #line) -> DaemonError {
        DaemonError(.startup, message, file: file, line: line)
    }

    public var isConfigError: Bool { code == .invalidConfig || code == .unreadableConfig || code == .environment }
}
