using System.Globalization;
using System.Net;

namespace CdpGateway.Tests.Support;

/// <summary>A test's reading of <c>GET /metrics</c>: the raw text and every sample as "name{labels}" to its value.</summary>
public sealed record MetricsScrape(string Text, IReadOnlyDictionary<string, double> Samples)
{
    public double this[string series] => Samples.TryGetValue(series, out var value)
        ? value
        : throw new KeyNotFoundException($"no sample {series} in the scrape:\n{Text}");

    /// <summary>Every family's type, from its <c># TYPE</c> line.</summary>
    public IReadOnlyDictionary<string, string> Families { get; } = Text.Split('\n')
        .Where(line => line.StartsWith("# TYPE ", StringComparison.Ordinal))
        .Select(line => line.Split(' '))
        .ToDictionary(words => words[2], words => words[3], StringComparer.Ordinal);

    public static Task<MetricsScrape> FromAsync(TestGateway gw) => FromAsync(gw.ApiHttp("/metrics"));

    public static async Task<MetricsScrape> FromAsync(Uri metrics)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(metrics);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains(response.Content.Headers.ContentType.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        return Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Every sample line's series and value. A series without labels is the same whether written <c>name</c> or
    /// <c>name{}</c> (the text format allows both); it is keyed as <c>name</c>.
    /// </summary>
    public static MetricsScrape Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            int space = line.LastIndexOf(' ');
            var series = line[..space];
            if (series.EndsWith("{}", StringComparison.Ordinal))
            {
                series = series[..^2];
            }
            samples.Add(series, double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture));
        }
        return new MetricsScrape(text, samples);
    }
}
