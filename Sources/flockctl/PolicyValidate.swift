import ArgumentParser
import FlockCLI
import FlockPolicy

extension PolicyCommand {
    /// Checks files without touching the store, so it runs anywhere, e.g. in a pre-commit hook.
    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate",
            abstract: "Check policy files and report every error with its location."
        )

        @Argument(help: ArgumentHelp("Policy files (YAML).", valueName: "file"))
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("Give at least one policy file.") }
        }

        func run() async throws {
            let documents = try loadPolicies(files, failure: "")
            for document in documents {
                print("\(document.file): ok (pool \(document.policy.pool), \(document.policy.checks.count) checks)")
            }
        }
    }
}

/// Loads and validates policy files, turning every diagnostic into the command's failure.
/// - Parameter failure: appended to the error count, e.g. "; nothing was applied".
func loadPolicies(_ files: [String], failure: String) throws -> [PolicyDocument] {
    do {
        return try PolicyDocument.load(files: files)
    } catch {
        let count = error.diagnostics.count
        throw CLIFailure("\(error)\n\(count) error\(count == 1 ? "" : "s")\(failure)")
    }
}
