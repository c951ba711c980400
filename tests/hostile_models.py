"""Models that are valid by every deploy-time rule but cost without bound when they run: the budgets' targets."""
from __future__ import annotations

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_{key}"
    targetNamespace="http://samverka.se/test">
  <bpmn:process id="{key}" isExecutable="true">
"""
TAIL = """  </bpmn:process>
</bpmn:definitions>
"""


def script_model(key: str, script: str, timer: str | None = None) -> bytes:
    """start → (a timer) → script task `berakna` → end."""
    first = "berakna"
    parts = [HEAD.format(key=key), '    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>\n']
    if timer:
        first = "vanta"
        parts.append('    <bpmn:intermediateCatchEvent id="vanta"><bpmn:incoming>f1</bpmn:incoming>'
                     '<bpmn:outgoing>f0</bpmn:outgoing><bpmn:timerEventDefinition id="vanta_timer">'
                     f'<bpmn:timeDuration>{timer}</bpmn:timeDuration></bpmn:timerEventDefinition>'
                     '</bpmn:intermediateCatchEvent>\n'
                     '    <bpmn:sequenceFlow id="f0" sourceRef="vanta" targetRef="berakna" />\n')
    incoming = "f0" if timer else "f1"
    parts.append(f'    <bpmn:scriptTask id="berakna" name="Beräkna" scriptFormat="python"><bpmn:incoming>{incoming}'
                 f'</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>{script}</bpmn:script>'
                 '</bpmn:scriptTask>\n'
                 '    <bpmn:endEvent id="slut"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>\n'
                 f'    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{first}" />\n'
                 '    <bpmn:sequenceFlow id="f2" sourceRef="berakna" targetRef="slut" />\n')
    parts.append(TAIL)
    return "".join(parts).encode()


def endless_loop(key: str) -> bytes:
    """A loop with no task or timer in it: script → gateway → back to the script, for ever."""
    return (HEAD.format(key=key) + """    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="igen"><bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:scriptTask id="rakna" scriptFormat="python"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>n = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="klar" default="f5"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:outgoing>f5</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="slut"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="igen" />
    <bpmn:sequenceFlow id="f2" sourceRef="igen" targetRef="rakna" />
    <bpmn:sequenceFlow id="f3" sourceRef="rakna" targetRef="klar" />
    <bpmn:sequenceFlow id="f4" sourceRef="klar" targetRef="igen">
      <bpmn:conditionExpression>n &gt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="klar" targetRef="slut" />
""" + TAIL).encode()


SQUARES = "x = 2\n" + "x = x * x\n" * 30  # 2 ** (2 ** 30): a number of 128 MB, for ever to compute
DOUBLED = "s = 'ab'\n" + "s = s + s\n" * 40  # a string of 2 TB
NESTED = "l = [1]\n" + "l = [l, l]\n" * 60  # small in memory, 2 ** 60 items written out

HOSTILE = {"kvadrat": script_model("kvadrat", SQUARES), "dubbla": script_model("dubbla", DOUBLED),
           "nasta": script_model("nasta", NESTED), "snurra": endless_loop("snurra")}
