using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Telemetry;

public sealed class GatewayInstanceTests
{
    [Theory]
    [InlineData("web-7", 9222, "web-7-9222")]
    [InlineData("web-7.prod.example.com", 9300, "web-7-prod-example-com-9300")]
    [InlineData("", 9222, "gateway-9222")]
    [InlineData("host with spaces*>", 1, "host-with-spaces---1")]
    public void TheDefaultIdIsTheHostNameMadeSafeForASubjectTokenAndThePort(string host, int port, string expected)
    {
        string id = GatewayInstance.DefaultId(host, port);

        Assert.Equal(expected, id);
        Assert.True(GatewayInstance.IsValidId(id));
    }

    [Fact]
    public void ALongHostNameIsCutSoTheIdKeepsItsPortWithinTheLimit()
    {
        string id = GatewayInstance.DefaultId(new string('h', 200), 65535);

        Assert.Equal(GatewayInstance.MaxIdLength, id.Length);
        Assert.EndsWith("-65535", id);
    }

    [Fact]
    public void EachStartHasItsOwnBootIdAndAGivenIdIsKept()
    {
        var first = GatewayInstance.Create("fleet-a_1", 9222);
        var second = GatewayInstance.Create("fleet-a_1", 9222);

        Assert.Equal("fleet-a_1", first.Id);
        Assert.Matches("^[0-9a-f]{12}$", first.BootId);
        Assert.NotEqual(first.BootId, second.BootId);
    }

    [Theory]
    [InlineData("a.b")]
    [InlineData("a*")]
    [InlineData("a>")]
    [InlineData("a b")]
    [InlineData("é")]
    public void AnIdThatIsNotOneSubjectTokenIsRefused(string id)
    {
        Assert.False(GatewayInstance.IsValidId(id));
        Assert.Throws<ArgumentException>(() => new GatewayInstance(id, "0123456789ab"));
        Assert.Contains("--instance-id", Assert.Throws<OptionException>(() => CommandLine.Parse(["--instance-id", id], _ => null)).Message);
    }

    [Fact]
    public async Task TheGatewaysEventsNameItsInstanceAndBoot()
    {
        await using var gateway = await TestGateway.StartAsync(o => o.InstanceId = "fleet-gw-3");
        using (var client = await gateway.ConnectAsync())
        {
            await client.EchoAsync("{}");
        }

        await gateway.WaitForEventAsync("cdp_disconnect");

        var source = gateway.EventsOfType("cdp_connect")[0].GetProperty("event").GetProperty("source");
        Assert.Equal("gateway", source.GetProperty("kind").GetString());
        Assert.Equal("fleet-gw-3", source.GetProperty("instance").GetString());
        Assert.Matches("^[0-9a-f]{12}$", source.GetProperty("boot").GetString());
    }
}
