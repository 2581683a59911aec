import FlockGuestKit
import Glibc

/// Turns one request line into exactly one reply line. Pure dispatch: the side effects live in
/// `IdentityApplier` and `GuestState`, which keeps every malformed-input path a plain return.
enum MessageHandler {
    static func reply(to line: [UInt8]) -> String {
        let message: JSONValue
        do {
            message = try JSONParser.parse(line)
        } catch {
            return errorReply("malformed JSON: \(error.message)")
        }
        guard case .object = message else { return errorReply("a message must be a JSON object") }
        guard let type = message["type"]?.stringValue else { return errorReply("a message needs a string \"type\"") }
        switch type {
        case "hello":
            let state = GuestState.current()
            return JSONWriter.object([
                ("type", .string("ready")),
                ("hostname", .string(state.hostname)),
                ("boot_id", .string(state.bootID)),
                ("clone_id", .optionalString(state.cloneID)),
                ("generation", .integer(state.generation)),
                ("app", .string(state.appUp ? "up" : "down")),
            ])
        case "ping":
            guard let seq = message["seq"]?.int64Value else { return errorReply("ping needs an integer seq") }
            return JSONWriter.object([("type", .string("pong")), ("seq", .integer(seq))])
        case "identity":
            Log.debug("identity parsed")
            let request: IdentityRequest
            switch IdentityRequest.validate(message) {
            case .success(let valid): request = valid
            case .failure(let error): return errorReply(error.message)
            }
            Log.debug("identity validated")
            switch IdentityApplier.apply(request) {
            case .success(let applied):
                Log.info(
                    "identity applied: \(request.cloneID) generation \(request.generation) [\(applied.joined(separator: ","))]"
                )
                return hooksReply(for: request, applied: applied)
            case .failure(let error):
                Log.info("identity failed: \(error.message)")
                return errorReply(error.message)
            }
        default:
            return errorReply("unknown type \(clip(type))")
        }
    }

    /// At most this many bytes in a reply: it must fit one xenstore value (4096 bytes, its key
    /// included) on Xen. Only a failed hook's output can make it longer; it is cut to fit.
    static let maxReplyBytes = 3072

    /// Runs the clone hooks for an applied identity. All passed (or there are none): `ack`, as
    /// before hooks existed plus their `hooks` list. One failed: `error`, whose message names it
    /// and its status (so that a host that does not know hooks fails the clone too); its output
    /// is in its `hooks` entry, once.
    private static func hooksReply(for request: IdentityRequest, applied: [String]) -> String {
        let environment = CloneHooks.environment(
            cloneID: request.cloneID, generation: request.generation, hostname: request.hostname,
            network: request.network.map { ($0.mac, $0.address, $0.prefix, $0.gateway) })
        var results = CloneHooks.run(environment: environment)
        Log.debug("clone hooks ran")
        for result in results {
            Log.info("clone hook \(result.name): \(result.outcome.description) in \(result.milliseconds) ms")
        }
        guard let failed = results.last, !failed.outcome.succeeded else {
            return JSONWriter.object([
                ("type", .string("ack")),
                ("clone_id", .string(request.cloneID)),
                ("hostname", .string(request.hostname)),
                ("applied", .strings(applied)),
                ("hooks", .objects(results.map(hookFields))),
            ])
        }
        while true {
            let reply = JSONWriter.object([
                ("type", .string("error")),
                ("message", .string("clone hook \(failed.name) failed (\(failed.outcome.description))")),
                ("clone_id", .string(request.cloneID)),
                ("hooks", .objects(results.map(hookFields))),
            ])
            let output = results[results.count - 1].output
            guard reply.utf8.count > maxReplyBytes, !output.isEmpty else { return reply }
            results[results.count - 1].output = String(
                decoding: output.utf8.suffix(output.utf8.count / 2), as: UTF8.self)
        }
    }

    /// `{"name","status","exit_status" or "signal","ms"}`, plus `output` when the hook failed.
    private static func hookFields(_ result: CloneHooks.Result) -> [(String, JSONWriter.Field)] {
        var fields: [(String, JSONWriter.Field)] = [
            ("name", .string(result.name)), ("status", .string(result.outcome.description)),
        ]
        switch result.outcome {
        case .exited(let code): fields.append(("exit_status", .integer(Int64(code))))
        case .signaled(let signal): fields.append(("signal", .integer(Int64(signal))))
        case .timedOut: fields.append(("signal", .integer(Int64(SIGKILL))))
        case .notStarted: break
        }
        fields.append(("ms", .integer(Int64(result.milliseconds))))
        if !result.outcome.succeeded { fields.append(("output", .string(result.output))) }
        return fields
    }

    static func errorReply(_ message: String) -> String {
        JSONWriter.object([("type", .string("error")), ("message", .string(message))])
    }

    /// Echoing a 60 KiB type name back would be silly; a prefix identifies it well enough.
    private static func clip(_ text: String) -> String {
        text.count <= 64 ? text : String(text.prefix(64)) + "…"
    }
}
