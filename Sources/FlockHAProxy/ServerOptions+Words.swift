import FlockCore

extension ServerOptions {
    /// The words after `check` on the `add server` line.
    func words() throws(HAProxyError) -> [String] {
        var words: [String] = []
        if let interval {
            words += ["inter", try Self.milliseconds(interval, name: "inter")]
        }
        if let rise {
            guard Self.riseFallRange.contains(rise) else { throw .invalidArgument("rise must be 1…1000, not \(rise)") }
            words += ["rise", String(rise)]
        }
        if let fall {
            guard Self.riseFallRange.contains(fall) else { throw .invalidArgument("fall must be 1…1000, not \(fall)") }
            words += ["fall", String(fall)]
        }
        if let maxConnections {
            guard Self.maxConnectionsRange.contains(maxConnections) else {
                throw .invalidArgument("maxconn must be 1…1000000, not \(maxConnections)")
            }
            words += ["maxconn", String(maxConnections)]
        }
        if let slowStart {
            words += ["slowstart", try Self.milliseconds(slowStart, name: "slowstart")]
        }
        if let weight {
            guard Self.weightRange.contains(weight) else {
                throw .invalidArgument("weight must be 0…256, not \(weight)")
            }
            words += ["weight", String(weight)]
        }
        return words
    }

    private static func milliseconds(_ duration: Duration, name: String) throws(HAProxyError) -> String {
        guard durationRange.contains(duration) else {
            throw .invalidArgument("\(name) must be between 1ms and 24h, not \(duration.flockText)")
        }
        let (seconds, attoseconds) = duration.components
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
    }
}
