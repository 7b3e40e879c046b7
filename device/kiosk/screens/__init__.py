"""The kiosk's screens, one module per flow:

* base: the Screen base class, its layout helpers, and Outcome;
* patient: welcome, consent, camera check, and the message screen (thank you, declined);
* questionnaire: PHQ-9 / GAD-7 pages, and the calm message after an urgent answer;
* playback: the stimulus timeline, then the processing screen;
* operator_menu: the PIN pads (operator menu; acknowledging an urgent answer) and the
  operator menu.

Screens report outcomes; device.kiosk.app owns every transition between them.
"""

from device.kiosk.screens.base import Outcome, Screen
from device.kiosk.screens.operator_menu import OperatorScreen, PinScreen, UrgentPinScreen
from device.kiosk.screens.patient import (
    CameraCheckScreen,
    ConsentScreen,
    MessageScreen,
    WelcomeScreen,
)
from device.kiosk.screens.playback import PlaybackScreen, ProcessingScreen
from device.kiosk.screens.questionnaire import QuestionnaireScreen, UrgentScreen

__all__ = [
    "CameraCheckScreen",
    "ConsentScreen",
    "MessageScreen",
    "OperatorScreen",
    "Outcome",
    "PinScreen",
    "PlaybackScreen",
    "ProcessingScreen",
    "QuestionnaireScreen",
    "Screen",
    "UrgentPinScreen",
    "UrgentScreen",
    "WelcomeScreen",
]
