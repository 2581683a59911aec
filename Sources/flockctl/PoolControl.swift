import ArgumentParser
import FlockCLI
import FlockCore
import FlockPolicy
import FlockStore
import Foundation

/// `flockctl pause|resume|scale`: an operator's hand on a pool, written to the store.
///
/// The daemon reads `paused` and the manual desired count from the store at every tick, so
/// these take effect within one evaluation interval, with or without the HTTP API, and survive
/// daemon restarts. A paused pool keeps recording samples and decisions but is not resized.
struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop resizing a pool (metrics and decisions are still recorded).")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The pool.") var pool: String

    func run() async throws {
        let db = try existingPool(store, pool)
        try update { try db.setPaused(pool: pool, true) }
        print("\(pool): paused; flockd stops resizing it from its next tick ('flockctl resume \(pool)' undoes this)")
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Let a paused pool be resized again.")
    @OptionGroup var store: StoreOptions
    @Argument(help: "The pool.") var pool: String

    func run() async throws {
        let db = try existingPool(store, pool)
        try update { try db.setPaused(pool: pool, false) }
        print("\(pool): resumed; flockd acts on its decisions again from its next tick")
    }
}

struct Scale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Fix a pool's desired count, or clear it to go back to the policy.",
        discussion: """
            The count includes the parent and is still clamped to the policy's capacity and moved at \
            most max_step per decision; the policy's checks are ignored until --clear.
            """)
    @OptionGroup var store: StoreOptions
    @Argument(help: "The pool.") var pool: String
    @Option(help: "The desired count of serving instances, the parent included (≥ 1).") var to: Int?
    @Flag(help: "Remove the manual count; the policy decides again.") var clear = false

    func validate() throws {
        switch (to, clear) {
        case (nil, false): throw ValidationError("give --to N or --clear")
        case (.some, true): throw ValidationError("give --to N or --clear, not both")
        case (let n?, false) where n < 1:
            throw ValidationError("--to must be at least 1 (the parent always serves); got \(n)")
        case (let n?, false) where n > Policy.countLimit:
            throw ValidationError("--to must be at most \(Policy.countLimit); got \(n)")
        default: break
        }
    }

    func run() async throws {
        let db = try existingPool(store, pool)
        try update { try db.setManualDesired(pool: pool, clear ? nil : to) }
        guard let to else {
            print("\(pool): manual count cleared; the policy decides again from flockd's next tick")
            return
        }
        var line = "\(pool): desired count fixed at \(to) until 'flockctl scale \(pool) --clear'"
        if let source = try db.currentPolicy(pool: pool)?.source,
            let policy = try? PolicyParser.parse(source, file: pool)
        {
            let clamped = policy.capacity.clamp(to)
            if clamped != to {
                line += "; the policy's capacity \(policy.capacity.min)…\(policy.capacity.max) clamps it to \(clamped)"
            }
        }
        print(line)
    }
}

/// The store, if it has `pool`; otherwise the failure that lists what to do.
private func existingPool(_ store: StoreOptions, _ pool: String) throws -> FlockStore {
    guard let db = try store.openExisting(), try db.pool(named: pool) != nil else {
        throw CLIFailure("error: no pool '\(pool)' in the store; 'flockctl status' shows the pools")
    }
    return db
}

private func update(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as StoreError {
        throw CLIFailure("error: \(error)")
    }
}
