import FlockGuestKit
import Glibc

/// The listening socket and its accept loop: one detached thread per connection, at most
/// `maxConnections` at once (see `Slots`).
struct Server {
    let config: Config
    let router: Router

    /// Runs forever; returns only if the socket cannot be set up (the caller exits and init
    /// respawns the app).
    func run() -> String {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { return "socket: \(GuestHost.errnoText())" }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = config.port.bigEndian
        address.sin_addr.s_addr = 0  // INADDR_ANY
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { return "bind 0.0.0.0:\(config.port): \(GuestHost.errnoText())" }
        guard listen(listener, 128) == 0 else { return "listen: \(GuestHost.errnoText())" }
        log(
            "listening on 0.0.0.0:\(config.port), miss cost \(config.missCostMs) ms, at most \(config.maxConnections) connections, "
                + "\(config.workers) workers waiting \(config.itemWaitMs) ms per item"
        )

        let slots = Slots(config.maxConnections)
        while true {
            slots.acquire()
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                slots.release()
                // EMFILE and friends: back off instead of spinning.
                if errno != EINTR && errno != ECONNABORTED { usleep(50_000) }
                continue
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            var noDelay: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            let router = self.router
            let started = startThread {
                Connection(fd: client, router: router).serve()
                close(client)
                slots.release()
            }
            if !started {
                close(client)
                slots.release()
            }
        }
    }
}


/// Console logging for the app; init sends stderr to the console.
func log(_ message: String) {
    let line = "flock-demo-app: " + message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}
