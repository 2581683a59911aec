import Glibc

/// Serves one client socket: reads requests one after another (keep-alive, pipelining in
/// order), with limits on head size, body size, idle time and requests per connection, so a
/// slow or hostile client costs one bounded thread and nothing more.
struct Connection {
    static let maxHeadBytes = 8 * 1024
    static let maxBodyBytes = 64 * 1024
    static let idleTimeoutMs = 15_000
    static let maxRequests = 10_000

    let fd: Int32
    let router: Router

    func serve() {
        var buffer: [UInt8] = []
        for _ in 0..<Self.maxRequests {
            // Read until the blank line that ends the head.
            var headEnd: (head: Int, next: Int)?
            while true {
                if let found = Self.findHeadEnd(buffer) {
                    headEnd = found
                    break
                }
                if buffer.count > Self.maxHeadBytes {
                    send(
                        HTTPResponse(status: 431, text: "request head too large\n"), keepAlive: false, includeBody: true
                    )
                    return
                }
                guard let chunk = receive() else {
                    // A client that goes quiet mid-request gets told why; an idle one just closes.
                    if !buffer.isEmpty {
                        send(
                            HTTPResponse(status: 400, text: "incomplete request\n"), keepAlive: false, includeBody: true
                        )
                    }
                    return
                }
                buffer += chunk
            }
            guard let (headLength, bodyStart) = headEnd else { return }
            guard headLength <= Self.maxHeadBytes else {
                send(HTTPResponse(status: 431, text: "request head too large\n"), keepAlive: false, includeBody: true)
                return
            }

            let request: HTTPRequest
            switch HTTPRequest.parse(head: buffer[0..<headLength]) {
            case .bad(let status, let reason):
                send(HTTPResponse(status: status, text: reason + "\n"), keepAlive: false, includeBody: true)
                return
            case .request(let parsed):
                request = parsed
            }
            buffer.removeFirst(bodyStart)

            if request.header("transfer-encoding") != nil {
                send(
                    HTTPResponse(status: 501, text: "transfer-encoding is not supported\n"), keepAlive: false,
                    includeBody: true)
                return
            }
            let lengths = request.headers.filter { $0.name == "content-length" }.map(\.value)
            var bodyLength = 0
            if let first = lengths.first {
                guard lengths.allSatisfy({ $0 == first }), let length = Int(first), length >= 0,
                    first.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
                else {
                    send(
                        HTTPResponse(status: 400, text: "invalid content-length\n"), keepAlive: false, includeBody: true
                    )
                    return
                }
                guard length <= Self.maxBodyBytes else {
                    send(HTTPResponse(status: 413, text: "body too large\n"), keepAlive: false, includeBody: true)
                    return
                }
                bodyLength = length
            }
            // No route takes a body; it is read and dropped so the next request stays framed.
            while buffer.count < bodyLength {
                guard let chunk = receive() else { return }
                buffer += chunk
            }
            buffer.removeFirst(bodyLength)

            let keepAlive = request.wantsKeepAlive
            let response = router.respond(to: request)
            guard send(response, keepAlive: keepAlive, includeBody: request.method != "HEAD"), keepAlive else { return }
        }
    }

    /// Finds CRLFCRLF (or LFLF); returns the head length and where the body starts.
    static func findHeadEnd(_ bytes: [UInt8]) -> (Int, Int)? {
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x0A {
                if i + 1 < bytes.count && bytes[i + 1] == 0x0A { return (i, i + 2) }
                if i + 2 < bytes.count && bytes[i + 1] == 0x0D && bytes[i + 2] == 0x0A {
                    let head = i > 0 && bytes[i - 1] == 0x0D ? i - 1 : i
                    return (head, i + 3)
                }
            }
            i += 1
        }
        return nil
    }

    /// One read, bounded by the idle timeout; nil on EOF, error or timeout.
    private func receive() -> [UInt8]? {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&entry, 1, Int32(Self.idleTimeoutMs))
            if ready < 0 && errno == EINTR { continue }
            guard ready == 1 else { return nil }
            break
        }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            return Array(chunk[0..<n])
        }
    }

    @discardableResult
    private func send(_ response: HTTPResponse, keepAlive: Bool, includeBody: Bool) -> Bool {
        let bytes = response.serialized(keepAlive: keepAlive, includeBody: includeBody)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return Glibc.send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }
}
