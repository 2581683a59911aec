import FlockTestSupport
import Foundation

/// Runs the built `flockctl` binary, as an operator would.
enum CLI {
    /// Its output goes to a scratch directory on tmpfs, removed after the run.
    static func run(_ arguments: [String]) async throws -> Child.Result {
        guard let binary = BuiltBinary.url("flockctl") else {
            throw HTTP.Failure(description: "flockctl is not built (swift build)")
        }
        return try await Child.run(binary, arguments, in: try Scratch(tmpfs: "cli"), timeout: .seconds(300))
    }
}

extension Child.Result {
    /// Standard output parsed as JSON, for `--json` runs.
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
}
