import FlockGuestKit

/// Maps requests to the app's routes. Stateless itself; the cache and identity it reads are
/// thread-safe objects shared by every connection.
struct Router: Sendable {
    let cache: ItemCache
    let identity: GuestIdentity
    let startedNs: UInt64
    let backendWait: BackendWait?

    static let maxKeyBytes = 200

    func respond(to request: HTTPRequest) -> HTTPResponse {
        let path = request.path
        let known = path == "/healthz" || path == "/stats" || path == "/identity" || path.hasPrefix("/item/")
        guard known else { return HTTPResponse(status: 404, text: "not found\n") }
        guard request.method == "GET" || request.method == "HEAD" else {
            var response = HTTPResponse(status: 405, text: "only GET and HEAD\n")
            response.extraHeaders.append(("Allow", "GET, HEAD"))
            return response
        }
        switch path {
        case "/healthz": return HTTPResponse(status: 200, text: "ok\n")
        case "/stats": return stats()
        case "/identity": return identityResponse()
        default: return item(String(path.dropFirst("/item/".count)))
        }
    }

    private func item(_ key: String) -> HTTPResponse {
        let valid =
            !key.isEmpty && key.utf8.count <= Self.maxKeyBytes
            && key.utf8.allSatisfy { c in
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                    || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || Array("-._~%".utf8).contains(c)
            }
        guard valid else {
            return HTTPResponse(
                status: 400, text: "a key is 1-\(Self.maxKeyBytes) characters of A-Z a-z 0-9 - . _ ~ %\n")
        }
        backendWait?.wait()
        let (value, hit) = cache.lookup(key)
        let hex = String(value, radix: 16)
        var response = HTTPResponse(
            status: 200,
            json:
                "{\"key\":\(JSONWriter.quote(key)),\"value\":\"\(String(repeating: "0", count: 16 - hex.count) + hex)\",\"cache\":\"\(hit ? "hit" : "miss")\"}"
        )
        response.extraHeaders.append(("X-Cache", hit ? "hit" : "miss"))
        return response
    }

    private func stats() -> HTTPResponse {
        let counters = cache.counters()
        let snapshot = identity.current()
        let uptimeMs = (ItemCache.monotonicNs() - startedNs) / 1_000_000
        let fraction = String(uptimeMs % 1000)
        let uptime = "\(uptimeMs / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
        let json =
            "{\"hits\":\(counters.hits),\"misses\":\(counters.misses),\"entries\":\(counters.entries),"
            + "\"uptime_s\":\(uptime),\"clone_id\":\(snapshot.cloneID.map(JSONWriter.quote) ?? "null"),"
            + "\"generation\":\(snapshot.generation),\"hostname\":\(JSONWriter.quote(GuestHost.hostname())),"
            + "\"miss_cost_ms\":\(cache.missCostMs)}"
        return HTTPResponse(status: 200, json: json)
    }

    private func identityResponse() -> HTTPResponse {
        let snapshot = identity.current()
        guard let random = GuestIdentity.randomHex() else {
            return HTTPResponse(status: 503, text: "cannot read /dev/urandom\n")
        }
        let json =
            "{\"hostname\":\(JSONWriter.quote(GuestHost.hostname())),"
            + "\"clone_id\":\(snapshot.cloneID.map(JSONWriter.quote) ?? "null"),\"generation\":\(snapshot.generation),"
            + "\"boot_id\":\(JSONWriter.quote(GuestHost.bootID())),\"random\":\"\(random)\"}"
        return HTTPResponse(status: 200, json: json)
    }
}
