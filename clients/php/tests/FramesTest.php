<?php
declare(strict_types=1);

use Mcsync\Client\Frames;
use PHPUnit\Framework\TestCase;

final class FramesTest extends TestCase
{
    public function testFramesAreReassembledWhateverTheChunking(): void
    {
        $stream = Frames::encode('first') . Frames::encode('') . Frames::encode(str_repeat('x', 70000))
            . Frames::encode("grpc-status:0\r\ngrpc-message:ok\r\n", Frames::TRAILER);
        foreach ([1, 3, 5, 4096, strlen($stream)] as $chunk) {
            $frames = new Frames();
            $got = [];
            foreach (str_split($stream, $chunk) as $piece) {
                foreach ($frames->push($piece) as $frame) {
                    $got[] = $frame;
                }
            }
            $this->assertCount(4, $got, "chunk $chunk");
            $this->assertSame([0, 'first'], $got[0]);
            $this->assertSame([0, ''], $got[1]);
            $this->assertSame(70000, strlen($got[2][1]));
            $this->assertSame(Frames::TRAILER, $got[3][0]);
            $this->assertSame(['grpc-status' => '0', 'grpc-message' => 'ok'], Frames::parseTrailers($got[3][1]));
            $this->assertSame(0, $frames->pending());
        }
    }
}
