using System.Text.Json;

namespace CdpGateway.Api.LiveView;

/// <summary>A page a viewer can pick: its target id, URL and title as Chromium's <c>/json/list</c> gives them.</summary>
public sealed record LivePage(string Id, string Url, string Title)
{
    /// <summary>The <c>page</c> entries of a <c>/json/list</c> answer (workers, iframes and the rest have no screen of their own).</summary>
    public static IReadOnlyList<LivePage> FromList(JsonElement list)
    {
        var pages = new List<LivePage>();
        if (list.ValueKind != JsonValueKind.Array)
        {
            return pages;
        }
        foreach (var target in list.EnumerateArray())
        {
            if (target.ValueKind == JsonValueKind.Object && Text(target, "type") == "page" && Text(target, "id") is { Length: > 0 } id)
            {
                pages.Add(new LivePage(id, Text(target, "url") ?? "", Text(target, "title") ?? ""));
            }
        }
        return pages;
    }

    public void WriteTo(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("id", Id);
        writer.WriteString("url", Url);
        writer.WriteString("title", Title);
        writer.WriteEndObject();
    }

    private static string? Text(JsonElement target, string name) =>
        target.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
