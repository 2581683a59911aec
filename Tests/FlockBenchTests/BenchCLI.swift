import FlockTestSupport
import Foundation

/// Runs the built `flock-bench` as an operator would, and reads what a bench wrote with `--json`.
enum BenchCLI {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `flock-bench` with `arguments` (an argument vector, never a shell line), its output in
    /// `scratch`; bounded like the benches' own time limits.
    static func run(_ arguments: [String], in scratch: Scratch) async throws -> Child.Result {
        guard let binary = BuiltBinary.url("flock-bench") else {
            throw Failure(description: "flock-bench is not built (swift build)")
        }
        return try await Child.run(binary, arguments, in: scratch, timeout: .seconds(600))
    }

    static func json(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path),
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw Failure(description: "\(path) is missing or not a JSON object") }
        return object
    }
}

/// A number from a JSON object, whether it decoded as an integer or a double.
func number(_ object: [String: Any]?, _ key: String) -> Double? {
    (object?[key] as? NSNumber)?.doubleValue
}
