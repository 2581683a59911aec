import FlockGuestKit

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
            let request: IdentityRequest
            switch IdentityRequest.validate(message) {
            case .success(let valid): request = valid
            case .failure(let error): return errorReply(error.message)
            }
            switch IdentityApplier.apply(request) {
            case .success(let applied):
                Log.info(
                    "identity applied: \(request.cloneID) generation \(request.generation) [\(applied.joined(separator: ","))]"
                )
                return JSONWriter.object([
                    ("type", .string("ack")),
                    ("clone_id", .string(request.cloneID)),
                    ("hostname", .string(request.hostname)),
                    ("applied", .strings(applied)),
                ])
            case .failure(let error):
                Log.info("identity failed: \(error.message)")
                return errorReply(error.message)
            }
        default:
            return errorReply("unknown type \(clip(type))")
        }
    }

    static func errorReply(_ message: String) -> String {
        JSONWriter.object([("type", .string("error")), ("message", .string(message))])
    }

    /// Echoing a 60 KiB type name back would be silly; a prefix identifies it well enough.
    private static func clip(_ text: String) -> String {
        text.count <= 64 ? text : String(text.prefix(64)) + "…"
    }
}
