import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One request/response exchange on a fresh connection, with FlockSystem's socket calls bounded by
/// one deadline.
///
/// HAProxy's runtime API closes a non-interactive connection after answering one command, so a
/// connection per command is both what HAProxy expects and what makes concurrent callers safe:
/// nothing is shared between exchanges. This runs on the shared blocking pool (see
/// `RuntimeClient`), never on Swift's cooperative pool.
enum SocketTransport {
    /// Sends `payload`, then reads until HAProxy closes the connection, all by `deadline` (which
    /// is `timeout` after the caller started; errors name the timeout).
    static func exchange(
        _ payload: String, command: String, endpoint: RuntimeEndpoint, deadline: ContinuousClock.Instant,
        timeout: Duration, limit: Int
    ) throws(HAProxyError) -> String {
        let fd = try connect(endpoint, command: command, deadline: deadline, timeout: timeout)
        defer { close(fd) }
        let bytes: [UInt8]
        do {
            try SocketIO.sendAll(fd, Array(payload.utf8), until: deadline)
        } catch {
            throw error.isTimeout ? .timeout(command, endpoint, after: timeout) : .io(command, endpoint, error.message)
        }
        do {
            bytes = try SocketIO.receiveAll(fd, limit: limit, until: deadline)
        } catch {
            if error.code == EMSGSIZE { throw .responseTooLarge(command, limit: limit) }
            throw error.isTimeout ? .timeout(command, endpoint, after: timeout) : .io(command, endpoint, error.message)
        }
        // HAProxy writes ASCII; anything else is kept visible instead of failing the decode.
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func connect(
        _ endpoint: RuntimeEndpoint, command: String, deadline: ContinuousClock.Instant, timeout: Duration
    ) throws(HAProxyError) -> Int32 {
        /// A failed connect, as HAProxyError: a timeout, or the system's reason.
        func located(_ error: SocketError) -> HAProxyError {
            error.isTimeout ? .timeout(command, endpoint, after: timeout) : .connect(endpoint, error.message)
        }
        switch endpoint {
        case .unix(let path):
            do throws(SocketError) {
                return try SocketIO.connectUnix(path, deadline: deadline)
            } catch {
                throw located(error)
            }
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
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
                let fd: Int32
                do {
                    fd = try SocketIO.streamSocket(family: info.pointee.ai_family)
                } catch {
                    lastError = located(error)
                    continue
                }
                do {
                    try SocketIO.connect(
                        fd, to: info.pointee.ai_addr, length: info.pointee.ai_addrlen, deadline: deadline)
                    return fd
                } catch {
                    close(fd)
                    lastError = located(error)
                    if error.isTimeout { throw lastError }
                }
            }
            throw lastError
        }
    }
}
