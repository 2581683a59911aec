import ArgumentParser
import FlockCLI
import FlockCore
import FlockStore
import Foundation

/// `flockctl events`: what happened, oldest first; `--follow` keeps printing new events.
///
/// Event ids only grow, so following is polling the store for ids above the last one printed:
/// no daemon connection is needed, and a restarted daemon's events simply continue the list.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print recorded events (decisions, failures, missing metrics, policy changes).",
        discussion: "With --follow it keeps printing new events until interrupted (Ctrl-C).")
    @OptionGroup var store: StoreOptions
    @Option(help: "Only this pool's events.") var pool: String?
    @Option(help: "How many of the latest events to print first.") var last: Int = 20
    @Flag(help: "Keep printing new events as they are recorded.") var follow = false
    @Flag(help: "Print one JSON object per line.") var json = false
    @Option(help: ArgumentHelp("How often --follow polls the store.", valueName: "duration"))
    var interval = DurationArgument(.seconds(1))

    func validate() throws {
        guard (1...10_000).contains(last) else { throw ValidationError("--last must be from 1 to 10000") }
        guard (.milliseconds(100)...(.seconds(60))).contains(interval.duration) else {
            throw ValidationError("--interval must be a duration from 100ms to 60s, e.g. 1s")
        }
    }

    func run() async throws {
        guard let db = try store.openExisting() else {
            if let pool { throw CLIFailure("error: no pool '\(pool)' in the store; 'flockctl status' shows the pools") }
            if !follow { print("no events: \(store.path) does not exist yet"); return }
            throw CLIFailure("error: \(store.path) does not exist yet; start flockd or apply a policy first")
        }
        if let pool, try db.pool(named: pool) == nil {
            throw CLIFailure("error: no pool '\(pool)' in the store; 'flockctl status' shows the pools")
        }
        var lastId: Int64?
        let first = try db.recentEvents(pool: pool, limit: last)
        try emit(first)
        lastId = first.last?.id
        if lastId == nil { lastId = try db.recentEvents(pool: nil, limit: 1).last?.id }
        guard follow else { return }
        let every = interval.duration
        // Ctrl-C ends the process; each batch is flushed, so nothing printed is lost in a pipe.
        while !Task.isCancelled {
            try await Task.sleep(for: every)
            let batch = try db.events(pool: pool, since: lastId ?? 0, limit: 1000)
            try emit(batch)
            if let id = batch.last?.id { lastId = id }
        }
    }

    /// Messages are printed with control characters escaped (`\u001b`), as the store records them
    /// now, so that an event stored by an older flockd cannot drive the terminal either.
    private func emit(_ events: [RecordedEvent]) throws {
        for recorded in events {
            let e = recorded.event
            let message = e.message.escapingControlCharacters
            if json {
                print(
                    try jsonText(
                        EventLine(id: recorded.id, time: e.time, pool: e.pool, kind: e.kind.rawValue, message: message))
                )
            } else {
                print("\(clockTime(e.time))  \(e.pool ?? "-")  \(e.kind.rawValue)  \(message)")
            }
        }
        fflush(nil)  // all C streams; `print` writes through stdout
    }
}

/// One event as JSON, with the keys of flockd's `/v1/events`.
struct EventLine: Encodable {
    var id: Int64
    var time: Date
    var pool: String?
    var kind: String
    var message: String
}
