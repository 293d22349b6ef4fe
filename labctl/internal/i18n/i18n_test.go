package i18n

import "testing"

func TestLang(t *testing.T) {
	tests := []struct {
		name string
		flag string
		env  []string
		want string
	}{
		{"flag wins", "en", []string{"zh_CN.UTF-8"}, "en"},
		{"zh flag", "zh", nil, "zh"},
		{"LC_ALL zh", "", []string{"zh_TW.UTF-8", "en_US.UTF-8"}, "zh"},
		{"C skipped", "", []string{"C", "zh_CN.UTF-8"}, "zh"},
		{"nothing set", "", []string{"", ""}, "en"},
		{"other language", "", []string{"fr_FR.UTF-8"}, "en"},
	}
	for _, tt := range tests {
		if got := Lang(tt.flag, tt.env...); got != tt.want {
			t.Errorf("%s: Lang(%q, %q) = %q, want %q", tt.name, tt.flag, tt.env, got, tt.want)
		}
	}
}

func TestEveryMessageHasChinese(t *testing.T) {
	for key, m := range messages {
		if m.en == "" || m.zh == "" {
			t.Errorf("message %q: en %q zh %q, want both", key, m.en, m.zh)
		}
	}
}
