import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One HTTP exchange with a flockd on loopback.
struct HTTPResult: CustomStringConvertible {
    var status: Int
    var contentType: String?
    /// Every response header, by its lowercased name.
    var headers: [String: String] = [:]
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as a JSON object, or nil.
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    var description: String { "HTTP \(status) \(contentType ?? "-")\n\(text)" }
}

enum HTTP {
    static func request(
        _ method: String, port: Int, _ path: String, token: String? = nil, body: String? = nil
    ) async throws -> HTTPResult {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 10
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var headers: [String: String] = [:]
        for case (let name as String, let value as String) in http?.allHeaderFields ?? [:] {
            headers[name.lowercased()] = value
        }
        return HTTPResult(
            status: http?.statusCode ?? 0, contentType: http?.value(forHTTPHeaderField: "Content-Type"),
            headers: headers, body: data)
    }
}
