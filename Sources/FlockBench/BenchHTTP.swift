import FlockSystem

/// A timed GET for the benches, over `PlainHTTP`: one request per connection, with no pooling,
/// retries or caching between the bench and the guest, on FlockSystem's pool for blocking calls
/// so a slow guest never stalls the driver whose clones are being timed.
enum BenchHTTP {
    struct Response: Sendable {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        /// From the call to the end of the response.
        var milliseconds: Double
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func get(_ host: String, _ port: Int, _ path: String, timeout: Duration) async throws -> Response {
        let started = ContinuousClock.now
        let response = try await PlainHTTP.get(host: host, port: port, path, timeout: timeout)
        return Response(
            status: response.status, headers: response.headers,
            milliseconds: BenchMath.milliseconds(ContinuousClock.now - started))
    }
}
