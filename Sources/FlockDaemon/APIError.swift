import Foundation
import Hummingbird

/// An API failure with its HTTP status and a message for the caller, sent as `{"error": "…"}`.
///
/// The code is private so that new cases never break callers; the static factories say which
/// status each kind of failure gets.
struct APIError: HTTPResponseError, CustomStringConvertible {
    private enum Code { case badRequest, unauthorized, forbidden, notFound, contentTooLarge, unavailable }

    private let code: Code
    let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }

    var status: HTTPResponse.Status {
        switch code {
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .contentTooLarge: .contentTooLarge
        case .unavailable: .serviceUnavailable
        }
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }
    static func unauthorized(_ message: String) -> APIError { APIError(.unauthorized, message) }
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }
    static func contentTooLarge(_ limit: Int) -> APIError {
        APIError(
            .contentTooLarge, "the request body is larger than flockd accepts (\(limit) bytes); send a smaller one")
    }
    static func unavailable(_ message: String) -> APIError { APIError(.unavailable, message) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if code == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"flockd\"" }
        let data = try APIModels.encoder().encode(APIModels.ErrorBody(error: message))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
