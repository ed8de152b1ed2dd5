using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry.Stats;

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StatsAnswer))]
[JsonSerializable(typeof(StatsError))]
public sealed partial class StatsJsonContext : JsonSerializerContext;
