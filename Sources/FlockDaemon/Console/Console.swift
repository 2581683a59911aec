import Hummingbird
import NIOCore

/// The operator's console at `/ui`: one static page, its script and its style, compiled into
/// flockd as strings, so it needs no resources bundle, no CDN and no build step.
///
/// The page is only a client of the `/v1` API on the same listener. Every response carries a
/// strict Content-Security-Policy: scripts, styles and requests from this origin only, nothing
/// inline, no frames, no form posts. The script inserts every piece of guest- or operator-written
/// text with `textContent`, and sends the API token (kept in `sessionStorage`) as an
/// `Authorization: Bearer` header, never a cookie, so another site cannot make a browser act on
/// flockd (no CSRF).
enum Console {
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("ui") { _, _ in page(ConsolePage.html, type: "text/html; charset=utf-8") }
        router.get("ui/console.js") { _, _ in page(ConsoleScript.source, type: "text/javascript; charset=utf-8") }
        router.get("ui/console.css") { _, _ in page(ConsoleStyle.source, type: "text/css; charset=utf-8") }
    }

    static func page(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.init("Referrer-Policy")!] = "no-referrer"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
