import ArgumentParser
import FlockCLI
import FlockPolicy
import FlockStore
import Foundation

extension PolicyCommand {
    /// Applies all files as one change: every file is valid and stored, or nothing is.
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apply",
            abstract: "Store new policy versions after showing what changes.",
            discussion: "All files are applied in one transaction. Re-applying identical text is a no-op."
        )

        @OptionGroup var store: StoreOptions

        @Flag(help: "Show the changes without storing them.")
        var dryRun = false

        @Argument(help: ArgumentHelp("Policy files (YAML).", valueName: "file"))
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("Give at least one policy file.") }
        }

        func run() async throws {
            let documents = try loadPolicies(files, failure: "; nothing was applied")
            // A dry run compares with what exists and never creates the store.
            let db = dryRun ? try store.openExisting() : try store.open()
            var changes: [PolicyChange] = []
            for document in documents {
                let pool = document.policy.pool
                let current = try db?.currentPolicy(pool: pool)
                if current?.checksum == document.checksum {
                    print("\(pool): unchanged (version \(current!.version)), nothing to apply")
                    continue
                }
                let next = (current?.version ?? 0) + 1
                print(
                    "\(pool): \(document.file) → version \(next)"
                        + (current.map { " (was version \($0.version))" } ?? " (new pool)"))
                print(lineDiff(from: current?.source ?? "", to: document.source), terminator: "")
                changes.append(
                    PolicyChange(
                        pool: pool, backend: document.policy.balancer.backend, source: document.source,
                        checksum: document.checksum, note: nil
                    )
                )
            }
            guard !changes.isEmpty else { return }
            if dryRun {
                print("dry run: nothing was stored")
                return
            }
            guard let db else { return }
            do {
                let stored = try db.applyPolicies(changes, by: currentUser(), at: Date())
                print("applied \(stored.map { "\($0.pool) v\($0.version)" }.joined(separator: ", ")) to \(store.path)")
            } catch {
                throw CLIFailure("error: \(error)\nnothing was applied")
            }
        }
    }
}

/// Who applied a change, for the policy history: `$USER`, else the account name.
func currentUser() -> String {
    if let user = ProcessInfo.processInfo.environment["USER"], !user.isEmpty { return user }
    return getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? "uid \(getuid())"
}
