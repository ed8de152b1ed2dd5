namespace CdpGateway.Browser;

/// <summary>Comparisons between DevTools URLs go through one normal form: scheme, host, port, path, query.</summary>
public static class DevToolsUrl
{
    public static string Normalize(string? raw)
    {
        if (string.IsNullOrEmpty(raw))
        {
            return "";
        }
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri))
        {
            return raw;
        }
        return $"{uri.Scheme}://{uri.Authority}{uri.PathAndQuery}";
    }
}
