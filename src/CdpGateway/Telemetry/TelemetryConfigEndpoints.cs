using System.Text.Json;
using CdpGateway.Api;
using CdpGateway.Telemetry.Commands;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CdpGateway.Telemetry;

/// <summary>
/// <c>PUT /telemetry</c> replaces the configuration (an omitted category is off, omitted exclusions are
/// none); <c>PATCH /telemetry</c> merges (only an explicit <c>enabled</c> changes a category; an omitted
/// <c>excluded_methods</c> leaves the list, <c>[]</c> clears it). Both take the <c>config</c> object
/// that <c>GET /telemetry</c> shows, answer with the new status, and apply to live connections at once.
/// </summary>
public static class TelemetryConfigEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapPut("/telemetry", new RequestDelegate(context => ApplyAsync(context, replace: true)));
        api.MapPatch("/telemetry", new RequestDelegate(context => ApplyAsync(context, replace: false)));
    }

    internal static async Task ApplyAsync(HttpContext context, bool replace)
    {
        var config = context.RequestServices.GetRequiredService<TelemetryConfig>();
        var change = new Change(
            replace ? false : config.IsEnabled(EventCategory.Connection),
            replace ? false : config.IsEnabled(EventCategory.Control),
            replace ? false : config.IsEnabled(EventCategory.System),
            replace ? [] : [.. config.ExcludedCdpMethods]);
        var (error, bodyError) = await JsonBody.ReadAsync(context.Request, root => Read(root, change),
            "a JSON object like {\"connection\":{\"enabled\":true}}", context.RequestAborted).ConfigureAwait(false);
        if (bodyError is not null)
        {
            context.Response.StatusCode = bodyError.Status;
            var message = bodyError.Problem is JsonBodyProblem.Empty or JsonBodyProblem.NotJson
                ? $"the body is not JSON: {bodyError.Detail}"
                : bodyError.Message;
            await context.Response.WriteAsJsonAsync(new TelemetryError(message), TelemetryJsonContext.Default.TelemetryError,
                contentType: null, context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (error is not null)
        {
            await TelemetryEndpoints.WriteBadRequestAsync(context, error).ConfigureAwait(false);
            return;
        }
        config.SetExcludedCdpMethods(change.Excluded);
        config.SetEnabled(EventCategory.Connection, change.Connection);
        config.SetEnabled(EventCategory.Control, change.Control);
        config.SetEnabled(EventCategory.System, change.System);
        var status = TelemetryStatus.Capture(config, context.RequestServices.GetRequiredService<EventStream>());
        await context.Response.WriteAsJsonAsync(status, TelemetryJsonContext.Default.TelemetryStatus, contentType: null, context.RequestAborted).ConfigureAwait(false);
    }

    private sealed class Change(bool connection, bool control, bool system, List<string> excluded)
    {
        public bool Connection = connection;
        public bool Control = control;
        public bool System = system;
        public List<string> Excluded = excluded;
    }

    /// <summary>Reads the body into <paramref name="change"/>; returns an error naming the problem, or null.</summary>
    private static string? Read(JsonElement root, Change change)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "the body must be a JSON object like {\"connection\":{\"enabled\":true}}";
        }
        foreach (var category in root.EnumerateObject())
        {
            if (category.Value.ValueKind != JsonValueKind.Object)
            {
                return $"{category.Name} must be an object";
            }
            switch (category.Name)
            {
                case EventCategory.Connection:
                    if (ReadSimple(category, ref change.Connection) is { } connectionError)
                    {
                        return connectionError;
                    }
                    break;
                case EventCategory.System:
                    if (ReadSimple(category, ref change.System) is { } systemError)
                    {
                        return systemError;
                    }
                    break;
                case EventCategory.Control:
                    if (ReadControl(category.Value, change) is { } controlError)
                    {
                        return controlError;
                    }
                    break;
                default:
                    return $"unknown telemetry category '{category.Name}' (known: {string.Join(", ", EventCategory.All)})";
            }
        }
        return null;
    }

    private static string? ReadSimple(JsonProperty category, ref bool enabled)
    {
        foreach (var field in category.Value.EnumerateObject())
        {
            if (field.Name != "enabled")
            {
                return $"unknown field '{category.Name}.{field.Name}'";
            }
            if (ReadBool(field) is not { } value)
            {
                return $"{category.Name}.enabled must be true or false";
            }
            enabled = value;
        }
        return null;
    }

    private static string? ReadControl(JsonElement control, Change change)
    {
        foreach (var field in control.EnumerateObject())
        {
            switch (field.Name)
            {
                case "enabled":
                    if (ReadBool(field) is not { } value)
                    {
                        return "control.enabled must be true or false";
                    }
                    change.Control = value;
                    break;
                case "cdp":
                    if (field.Value.ValueKind != JsonValueKind.Object)
                    {
                        return "control.cdp must be an object";
                    }
                    foreach (var cdpField in field.Value.EnumerateObject())
                    {
                        if (cdpField.Name != "excluded_methods")
                        {
                            return $"unknown field 'control.cdp.{cdpField.Name}'";
                        }
                        if (ReadMethods(cdpField.Value, out var methods) is { } error)
                        {
                            return error;
                        }
                        change.Excluded = methods;
                    }
                    break;
                default:
                    return $"unknown field 'control.{field.Name}'";
            }
        }
        return null;
    }

    private static string? ReadMethods(JsonElement list, out List<string> methods)
    {
        methods = [];
        if (list.ValueKind != JsonValueKind.Array)
        {
            return "control.cdp.excluded_methods must be an array of method names";
        }
        foreach (var item in list.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || !CdpMethods.TryParse(item.GetString()!, out var method))
            {
                return $"control.cdp.excluded_methods: {item.GetRawText()} is not a reported CDP method (see cdp_command in the README)";
            }
            if (!methods.Contains(method.Name()))
            {
                methods.Add(method.Name());
            }
        }
        return null;
    }

    private static bool? ReadBool(JsonProperty field) => field.Value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
