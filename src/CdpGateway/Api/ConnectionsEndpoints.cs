using CdpGateway.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CdpGateway.Api;

/// <summary>
/// The connections API (README, "The API port"): <c>GET /connections</c> lists every open client connection with its
/// live traffic, <c>GET /connections/{id}</c> shows one, <c>DELETE /connections/{id}</c> closes one (the client gets
/// 1008 <c>closed by operator</c>; its <c>cdp_disconnect</c> says <c>context_cancelled</c>, <c>cancelled_by</c>
/// <c>operator</c>). A connection is listed from its <c>cdp_connect</c> until its <c>cdp_disconnect</c>. Access
/// control (Host, Origin, token, the control token for DELETE) runs before any of these.
/// </summary>
public static class ConnectionsEndpoints
{
    /// <summary>How long a DELETE waits for the connection's <c>cdp_disconnect</c> before answering 202: the close grace and the command drain fit well within it.</summary>
    internal static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(5);

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/connections", (OpenConnections open, TimeProvider time) =>
        {
            var now = time.GetUtcNow();
            var list = open.Snapshot().Select(c => ConnectionInfo.From(c, now)).ToList();
            return Results.Json(new ConnectionList(list.Count, list), ApiJsonContext.Default.ConnectionList);
        });

        api.MapGet("/connections/{id}", (string id, OpenConnections open, TimeProvider time) =>
            Find(id, open, out var connection) is { } refused
                ? refused
                : Results.Json(ConnectionInfo.From(connection!, time.GetUtcNow()), ApiJsonContext.Default.ConnectionInfo));

        api.MapDelete("/connections/{id}", async (string id, OpenConnections open, TimeProvider time, HttpContext context) =>
        {
            if (Find(id, open, out var connection) is { } refused)
            {
                return refused;
            }
            if (!connection!.RequestClose())
            {
                return Error(StatusCodes.Status409Conflict, $"connection {id} is already ending");
            }
            try
            {
                await connection.Ended.WaitAsync(CloseWait, time, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                return Results.Json(new ConnectionClosed(id, Closed: false), ApiJsonContext.Default.ConnectionClosed,
                    statusCode: StatusCodes.Status202Accepted);
            }
            return Results.Json(new ConnectionClosed(id, Closed: true), ApiJsonContext.Default.ConnectionClosed);
        });
    }

    /// <summary>Null and the connection when it is open; else the answer: 400 for an id of the wrong form, 404 for one not open.</summary>
    private static IResult? Find(string id, OpenConnections open, out OpenConnection? connection)
    {
        connection = null;
        if (!ConnectionId.IsWellFormed(id))
        {
            return Error(StatusCodes.Status400BadRequest, "a connection id is 16 lowercase hex characters (as cdp_connect reports it)");
        }
        if (!open.TryGet(id, out connection))
        {
            return Error(StatusCodes.Status404NotFound, $"no open connection {id}: it has ended, or never existed");
        }
        return null;
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new ApiError { Error = message }, ApiJsonContext.Default.ApiError, statusCode: status);
}
