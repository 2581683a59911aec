import ArgumentParser
import FlockCLI
import FlockStore
import Foundation

extension PolicyCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List pools and their current policy versions.")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let db = try store.openExisting()
            let pools = try db?.pools() ?? []
            guard let db, !pools.isEmpty else {
                print("no pools in \(store.path); 'flockctl policy apply FILE' adds one")
                return
            }
            var rows = [["POOL", "BACKEND", "VERSION", "APPLIED", "BY", "PAUSED"]]
            for pool in pools {
                let current = try db.currentPolicy(pool: pool.name)
                rows.append([
                    pool.name, pool.backend, current.map { "\($0.version)" } ?? "-",
                    current.map { timestamp($0.appliedAt) } ?? "-", current?.appliedBy ?? "-",
                    pool.paused ? "yes" : "no",
                ])
            }
            print(table(rows), terminator: "")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Print a stored policy's source text.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The pool.") var pool: String
        @Option(help: "The version to show (default: the current one).") var version: Int?

        func run() async throws {
            print(try requireVersion(store, pool: pool, version: version).source, terminator: "")
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "history", abstract: "List every applied version of a pool's policy.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The pool.") var pool: String

        func run() async throws {
            let versions = try store.openExisting()?.policyHistory(pool: pool) ?? []
            guard let current = versions.last else { throw unknownPool(pool) }
            var rows = [["", "VERSION", "APPLIED", "BY", "CHECKSUM", "NOTE"]]
            for v in versions {
                rows.append([
                    v.version == current.version ? "*" : "", "\(v.version)", timestamp(v.appliedAt), v.appliedBy,
                    String(v.checksum.prefix(12)), v.note ?? "",
                ])
            }
            print(table(rows), terminator: "")
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff", abstract: "Show what changed between two versions.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The pool.") var pool: String
        @Option(help: "The older version.") var from: Int
        @Option(help: "The newer version.") var to: Int

        func run() async throws {
            let old = try requireVersion(store, pool: pool, version: from)
            let new = try requireVersion(store, pool: pool, version: to)
            print("--- \(pool) version \(from)\n+++ \(pool) version \(to)")
            print(lineDiff(from: old.source, to: new.source), terminator: "")
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rollback",
            abstract: "Make an earlier version current again.",
            discussion: "The rollback is recorded as a new version, so history only ever grows."
        )
        @OptionGroup var store: StoreOptions
        @Argument(help: "The pool.") var pool: String
        @Option(help: "The version to return to.") var to: Int

        func run() async throws {
            let target = try requireVersion(store, pool: pool, version: to)
            let current = try requireVersion(store, pool: pool, version: nil)
            let db = try store.open()
            do {
                guard let created = try db.rollback(pool: pool, to: to, by: currentUser(), at: Date()) else {
                    print("\(pool): version \(current.version) already has the text of version \(to), nothing to do")
                    return
                }
                print(lineDiff(from: current.source, to: target.source), terminator: "")
                print("\(pool): rolled back to version \(to), recorded as version \(created.version)")
            } catch let error as StoreError {
                throw CLIFailure("error: \(error)")
            }
        }
    }
}

/// The pool's given (or current) version, or a failure that says what exists instead.
private func requireVersion(_ store: StoreOptions, pool: String, version: Int?) throws -> PolicyVersion {
    guard let db = try store.openExisting() else { throw unknownPool(pool) }
    if let version {
        if let found = try db.policyVersion(pool: pool, version: version) { return found }
        let existing = try db.policyHistory(pool: pool).map { "\($0.version)" }
        guard !existing.isEmpty else { throw unknownPool(pool) }
        throw CLIFailure(
            "error: pool '\(pool)' has no version \(version) (versions: \(existing.joined(separator: ", ")))"
        )
    }
    guard let current = try db.currentPolicy(pool: pool) else { throw unknownPool(pool) }
    return current
}

private func unknownPool(_ pool: String) -> CLIFailure {
    CLIFailure("error: no pool '\(pool)' in the store; 'flockctl policy list' shows the pools")
}

private func timestamp(_ date: Date) -> String {
    date.formatted(
        .iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon)
    )
}
