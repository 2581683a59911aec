import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One request/response exchange on a fresh connection, with blocking system calls bounded by a
/// deadline through `poll()`.
///
/// HAProxy's runtime API closes a non-interactive connection after answering one command, so a
/// connection per command is both what HAProxy expects and what makes concurrent callers safe:
/// nothing is shared between exchanges. This runs on a thread of its own (see `RuntimeClient`),
/// never on Swift's cooperative pool.
enum SocketTransport {
    /// Sends `payload`, then reads until HAProxy closes the connection.
    static func exchange(
        _ payload: String, command: String, endpoint: RuntimeEndpoint, timeout: Duration, limit: Int
    ) throws(HAProxyError) -> String {
        let deadline = ContinuousClock.now + timeout
        let fd = try connect(endpoint, command: command, deadline: deadline, timeout: timeout)
        defer { close(fd) }
        try send(
            Array(payload.utf8), fd: fd, command: command, endpoint: endpoint, deadline: deadline, timeout: timeout)
        let bytes = try receive(
            fd: fd, command: command, endpoint: endpoint, deadline: deadline, timeout: timeout, limit: limit)
        // HAProxy writes ASCII; anything else is kept visible instead of failing the decode.
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - connect

    private static func connect(
        _ endpoint: RuntimeEndpoint, command: String, deadline: ContinuousClock.Instant, timeout: Duration
    ) throws(HAProxyError) -> Int32 {
        switch endpoint {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(socketStream), 0)
            guard fd >= 0 else { throw .connect(endpoint, "socket(): \(errnoText())") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: bytes.prefix(raw.count - 1))
            }
            do {
                try withUnsafePointer(to: &address) { pointer throws(HAProxyError) in
                    try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (sa) throws(HAProxyError) in
                        try finishConnect(
                            fd: fd, address: sa, length: socklen_t(MemoryLayout<sockaddr_un>.size), endpoint: endpoint,
                            command: command, deadline: deadline, timeout: timeout
                        )
                    }
                }
            } catch {
                close(fd)
                throw error
            }
            return fd
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(socketStream)
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0, let first = list else {
                throw .connect(endpoint, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
            }
            defer { freeaddrinfo(list) }
            var lastError = HAProxyError.connect(endpoint, "no address for \(host)")
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let info = cursor {
                cursor = info.pointee.ai_next
                let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
                guard fd >= 0 else {
                    lastError = .connect(endpoint, "socket(): \(errnoText())")
                    continue
                }
                do {
                    try finishConnect(
                        fd: fd, address: info.pointee.ai_addr, length: info.pointee.ai_addrlen, endpoint: endpoint,
                        command: command, deadline: deadline, timeout: timeout
                    )
                    return fd
                } catch {
                    close(fd)
                    lastError = error
                    if error.isTimeout { throw error }
                }
            }
            throw lastError
        }
    }

    private static func finishConnect(
        fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t, endpoint: RuntimeEndpoint, command: String,
        deadline: ContinuousClock.Instant, timeout: Duration
    ) throws(HAProxyError) {
        let flags = fcntl(fd, F_GETFL, 0)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw .connect(endpoint, "fcntl(): \(errnoText())")
        }
        while true {
            if Glibc.connect(fd, address, length) == 0 { return }
            if errno == EINPROGRESS { break }
            // A unix socket whose listen queue is full fails a non-blocking connect with EAGAIN
            // and stays unconnected: try again shortly, within the deadline.
            guard errno == EAGAIN || errno == EINTR else { throw .connect(endpoint, errnoText()) }
            guard ContinuousClock.now < deadline else { throw .timeout(command, endpoint, after: timeout) }
            usleep(5_000)
        }
        try wait(
            fd: fd, for: Int16(POLLOUT), command: command, endpoint: endpoint, deadline: deadline, timeout: timeout)
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0 else {
            throw .connect(endpoint, "getsockopt(): \(errnoText())")
        }
        guard error == 0 else { throw .connect(endpoint, String(cString: strerror(error))) }
    }

    // MARK: - send and receive

    private static func send(
        _ bytes: [UInt8], fd: Int32, command: String, endpoint: RuntimeEndpoint, deadline: ContinuousClock.Instant,
        timeout: Duration
    ) throws(HAProxyError) {
        var offset = 0
        while offset < bytes.count {
            try wait(
                fd: fd, for: Int16(POLLOUT), command: command, endpoint: endpoint, deadline: deadline, timeout: timeout)
            let written = bytes[offset...].withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw .io(command, endpoint, "write: \(errnoText())")
            }
            offset += written
        }
    }

    private static func receive(
        fd: Int32, command: String, endpoint: RuntimeEndpoint, deadline: ContinuousClock.Instant, timeout: Duration,
        limit: Int
    ) throws(HAProxyError) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            try wait(
                fd: fd, for: Int16(POLLIN), command: command, endpoint: endpoint, deadline: deadline, timeout: timeout)
            let count = buffer.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress, raw.count, 0) }
            if count == 0 { return result }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                // A reset after a complete answer still carries the answer.
                if errno == ECONNRESET, !result.isEmpty { return result }
                throw .io(command, endpoint, "read: \(errnoText())")
            }
            guard result.count + count <= limit else { throw .responseTooLarge(command, limit: limit) }
            result.append(contentsOf: buffer[0..<count])
        }
    }

    /// Waits until `fd` is ready for `events` or the deadline passes.
    private static func wait(
        fd: Int32, for events: Int16, command: String, endpoint: RuntimeEndpoint, deadline: ContinuousClock.Instant,
        timeout: Duration
    ) throws(HAProxyError) {
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw .timeout(command, endpoint, after: timeout) }
            let (seconds, attoseconds) = left.components
            let millis = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&descriptor, 1, millis)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .io(command, endpoint, "poll: \(errnoText())")
            }
            // Readiness, an error or a hang-up all mean the next call will not block; it reports the detail.
            if ready > 0 { return }
        }
    }

    private static var socketStream: Int32 {
        #if canImport(Glibc)
            Int32(SOCK_STREAM.rawValue)
        #else
            SOCK_STREAM
        #endif
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
