/// A response the app sends. Always carries Content-Length so keep-alive framing is exact.
struct HTTPResponse {
    var status: Int
    var contentType = "text/plain; charset=utf-8"
    var body: [UInt8]
    var extraHeaders: [(String, String)] = []

    init(status: Int, text: String) {
        self.status = status
        self.body = Array(text.utf8)
    }

    init(status: Int, json: String) {
        self.status = status
        self.contentType = "application/json"
        self.body = Array((json + "\n").utf8)
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 431: return "Request Header Fields Too Large"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }

    /// The wire bytes; `includeBody` is false for HEAD, which still reports the length.
    func serialized(keepAlive: Bool, includeBody: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\n"
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.count)\r\n"
        head += "Connection: \(keepAlive ? "keep-alive" : "close")\r\n"
        for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var out = Array(head.utf8)
        if includeBody { out += body }
        return out
    }
}
