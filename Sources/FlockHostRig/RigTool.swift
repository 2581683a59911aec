import FlockSystem

/// Runs the rig's tools (`ip`, `ssh-keygen`, `nsenter`), each as an argument vector.
public enum RigTool {
    /// Runs `executable` and returns what it printed; a non-zero exit is an error with its stderr.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) async throws -> String {
        let outcome = try await ChildProcess.run(executable, arguments, timeout: .seconds(30))
        guard outcome.status == 0 else {
            throw RigError(
                "\(executable) \(arguments.joined(separator: " ")) failed (\(outcome.status)): \(outcome.standardError)"
            )
        }
        return outcome.standardOutput
    }
}

/// A rig that could not be built, saying which step failed and what the tool printed.
public struct RigError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
