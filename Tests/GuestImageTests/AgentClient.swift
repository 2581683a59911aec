import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The host end of the agent protocol, as the QEMU driver will speak it: JSON Lines over the
/// VM's virtio-serial chardev socket.
final class AgentClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(socketPath: String) throws {
        fd = try Sockets.connectUnix(path: socketPath)
    }

    deinit { close(fd) }

    /// Starts a conversation the way a host must: an empty line first (it completes and so
    /// discards any fragment a previous host left in the guest's buffer; the agent ignores blank
    /// lines), then `hello`, then lines are read until `ready`, skipping stale replies addressed
    /// to a previous connection and the error for that fragment.
    func handshake() throws -> [String: Any] {
        try sendLine([])
        try sendLine(Array(#"{"type":"hello"}"#.utf8))
        for _ in 0..<16 {
            let line = try readLine()
            if let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                object["type"] as? String == "ready"
            {
                return object
            }
        }
        throw Sockets.Failure(description: "no ready after hello")
    }

    func sendLine(_ bytes: [UInt8]) throws {
        try Sockets.sendAll(fd, bytes + [0x0A])
    }

    /// Sends one line and reads one reply line, parsed as a JSON object.
    func request(_ line: String) throws -> [String: Any] {
        try request(bytes: Array(line.utf8))
    }

    func request(bytes: [UInt8]) throws -> [String: Any] {
        try sendLine(bytes)
        let reply = try readLine()
        guard let object = (try? JSONSerialization.jsonObject(with: Data(reply))) as? [String: Any] else {
            throw Sockets.Failure(
                description: "agent reply is not a JSON object: \(String(decoding: reply, as: UTF8.self))")
        }
        return object
    }

    func request(json object: [String: Any]) throws -> [String: Any] {
        try request(bytes: Array(try JSONSerialization.data(withJSONObject: object)))
    }

    func readLine() throws -> [UInt8] {
        for _ in 0..<10_000 {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[0..<newline])
                buffer.removeFirst(newline + 1)
                return line
            }
            let chunk = try Sockets.receive(fd)
            guard !chunk.isEmpty else { throw Sockets.Failure(description: "agent socket closed") }
            buffer += chunk
        }
        throw Sockets.Failure(description: "no newline from the agent")
    }
}
