import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client over one TCP connection, raw enough to send garbage and to reuse a
/// connection (keep-alive), which URLSession would hide from the tests.
final class HTTPConnection {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as a JSON object (tests only read flat fields).
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
    }

    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = try Sockets.connectTCP(port: port)
    }

    deinit { close(fd) }

    func get(_ path: String, close: Bool = false) throws -> Response {
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if close { request += "Connection: close\r\n" }
        return try send(raw: Array((request + "\r\n").utf8))
    }

    /// Sends bytes verbatim and reads one response.
    func send(raw: [UInt8]) throws -> Response {
        try Sockets.sendAll(fd, raw)
        return try readResponse()
    }

    /// True once the server has closed its end (recv returns 0).
    func isClosedByPeer() -> Bool {
        (try? Sockets.receive(fd)).map { $0.isEmpty } ?? false
    }

    private func readResponse() throws -> Response {
        var headEnd: Int?
        for _ in 0..<1000 {
            if let range = findBlankLine() {
                headEnd = range
                break
            }
            let chunk = try Sockets.receive(fd)
            guard !chunk.isEmpty else { throw Sockets.Failure(description: "connection closed before a response") }
            buffer += chunk
        }
        guard let end = headEnd else { throw Sockets.Failure(description: "no response head") }
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        buffer.removeFirst(end + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Sockets.Failure(description: "bad status line in \(head)")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        for _ in 0..<1000 where buffer.count < length {
            let chunk = try Sockets.receive(fd)
            guard !chunk.isEmpty else { break }
            buffer += chunk
        }
        guard buffer.count >= length else { throw Sockets.Failure(description: "short body") }
        let body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return Response(status: status, headers: headers, body: body)
    }

    private func findBlankLine() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4)
        where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }
}
