using CdpGateway.Browser;
using CdpGateway.Telemetry.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CdpGateway.Api;

/// <summary>
/// The Chromium control API (README, "Chromium supervision and control API"): <c>GET /chromium</c>, <c>POST /chromium/restart</c>,
/// <c>GET|PATCH|PUT /chromium/flags</c>. A restart answers once the new browser is ready: 200 with its URL
/// and the elapsed time (in launch mode split into its phases), 504 with the Chromium state after 90 s, 409 when this mode cannot restart.
/// A body that is not <c>{"flags":[...]}</c> of <c>--flags</c>, or a flag the <see cref="FlagPolicy"/> refuses, is 400 with a
/// message naming what is wrong; a body over <see cref="JsonBody.MaxBytes"/> is 413; flags Chromium does not start with
/// are 422, after the previous flags were restored.
/// </summary>
public static class ChromiumEndpoints
{
    private const string ExpectedBody = "{\"flags\":[\"--flag\",\"--name=value\"]}";

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/chromium", (IChromiumControl chromium) =>
            Results.Json(chromium.Status, ApiJsonContext.Default.ChromiumStatus));

        api.MapPost("/chromium/restart", (IChromiumControl chromium, IHostApplicationLifetime lifetime, HttpContext context) =>
            RunAsync(ct => chromium.RestartAsync(ct), context, lifetime));

        api.MapGet("/chromium/flags", (IChromiumControl chromium) =>
            Results.Json(new FlagsAnswer { Flags = chromium.Flags, CommandLine = chromium.Status.CommandLine }, ApiJsonContext.Default.FlagsAnswer));

        api.MapMethods("/chromium/flags", ["PATCH"], (IChromiumControl chromium, IHostApplicationLifetime lifetime, HttpContext context) =>
            ChangeFlagsAsync(chromium, replace: false, context, lifetime));

        api.MapPut("/chromium/flags", (IChromiumControl chromium, IHostApplicationLifetime lifetime, HttpContext context) =>
            ChangeFlagsAsync(chromium, replace: true, context, lifetime));
    }

    private static async Task<IResult> ChangeFlagsAsync(IChromiumControl chromium, bool replace, HttpContext context, IHostApplicationLifetime lifetime)
    {
        var ((flags, error), bodyError) = await JsonBody.ReadAsync(context.Request, root => (RuntimeFlags.Parse(root, out var e), e),
            ExpectedBody, context.RequestAborted).ConfigureAwait(false);
        if (bodyError is not null)
        {
            return Error(bodyError.Status, bodyError.Message);
        }
        if (flags is null)
        {
            return Error(StatusCodes.Status400BadRequest, error!);
        }
        return await RunAsync(ct => chromium.ChangeFlagsAsync(flags, replace, ct), context, lifetime).ConfigureAwait(false);
    }

    /// <summary>Runs a restart and turns its outcome into the documented answers.</summary>
    private static async Task<IResult> RunAsync(Func<CancellationToken, Task<ChromiumRestartResult>> restart, HttpContext context, IHostApplicationLifetime lifetime)
    {
        // A restart ends with the request or with the gateway (shutdown must not wait 90 s for it).
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            var result = await restart(cancellation.Token).ConfigureAwait(false);
            if (result.Phases is { } phases)
            {
                context.RequestServices.GetRequiredService<GatewayMetrics>().Restarted(phases);
            }
            return Results.Json(new RestartAnswer
            {
                DevToolsUrl = result.DevToolsUrl,
                Generation = result.Generation,
                ElapsedMs = Math.Round(result.Elapsed.TotalMilliseconds, 1),
                Restarted = result.Restarted,
                Flags = result.Flags,
                Phases = RestartPhasesAnswer.From(result.Phases),
            }, ApiJsonContext.Default.RestartAnswer);
        }
        catch (ChromiumControlUnavailableException e)
        {
            return Error(StatusCodes.Status409Conflict, e.Message);
        }
        catch (ChromiumFlagsRefusedException e)
        {
            return Error(StatusCodes.Status400BadRequest, e.Message);
        }
        catch (ChromiumFlagsFailedException e)
        {
            return Results.Json(new ApiError { Error = e.Message, Chromium = e.Status }, ApiJsonContext.Default.ApiError,
                statusCode: StatusCodes.Status422UnprocessableEntity);
        }
        catch (ChromiumNotReadyException e)
        {
            return Results.Json(new ApiError { Error = e.Message, Chromium = e.Status }, ApiJsonContext.Default.ApiError,
                statusCode: StatusCodes.Status504GatewayTimeout);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Error(StatusCodes.Status500InternalServerError, $"could not persist the flags: {e.Message}");
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            return lifetime.ApplicationStopping.IsCancellationRequested || e is ObjectDisposedException
                ? Error(StatusCodes.Status503ServiceUnavailable, "the gateway is shutting down")
                : Error(499, "the request was cancelled");
        }
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new ApiError { Error = message }, ApiJsonContext.Default.ApiError, statusCode: status);
}
